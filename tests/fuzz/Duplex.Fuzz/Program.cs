using Duplex.Fuzz;

// Duplex.Fuzz <target>                 run <target> under afl-fuzz (SharpFuzz's fork server; once when not under AFL)
// Duplex.Fuzz <target> <file>...       replay files through <target>, uninstrumented; an escaping exception fails
// Duplex.Fuzz list                     the target names
// Duplex.Fuzz seeds <corpus dir>       (re)write the generated seed inputs under <dir>/<target>/
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: Duplex.Fuzz <target> [file...] | list | seeds <dir>");
    Console.Error.WriteLine("targets: " + string.Join(", ", FuzzTargets.Names));
    return 2;
}
if (args[0] == "list")
{
    foreach (var name in FuzzTargets.Names) Console.WriteLine(name);
    return 0;
}
if (args[0] == "seeds")
{
    if (args.Length != 2) return 2;
    Seeds.WriteAll(args[1]);
    return 0;
}
var target = FuzzTargets.Get(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"unknown target '{args[0]}'; targets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
if (args.Length > 1)
{
    foreach (var file in args.Skip(1))
    {
        Console.Error.WriteLine($"{args[0]}: {file}");
        target(File.ReadAllBytes(file));
    }
    return 0;
}
SharpFuzz.Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    target(copy.GetBuffer().AsSpan(0, (int)copy.Length));
});
return 0;
