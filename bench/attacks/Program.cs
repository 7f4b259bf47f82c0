using Duplex.Attacks;

// attacks server [--keepalive S] [--connect-timeout S] [--compression]
// attacks run ATTACK --port P --pid PID [--path fast|full]
return args.FirstOrDefault() switch
{
    "server" => await AttackServer.RunAsync(args[1..]),
    "run" => await AttackRunner.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: attacks server [--keepalive S] [--connect-timeout S] [--compression]");
    Console.Error.WriteLine("       attacks run ATTACK --port P --pid PID [--path fast|full]");
    Console.Error.WriteLine("attacks: " + string.Join(", ", AttackRunner.Names));
    return 2;
}
