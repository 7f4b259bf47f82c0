namespace Duplex.Cli;

/// <summary>
/// <c>duplex bench</c>: a load generator on raw sockets (not Duplex's client, so it hides no engine
/// cost) for any WebSocket server on loopback. Every run is bounded by <c>--duration</c> (and
/// optionally <c>--messages</c>) and stops by itself.
/// </summary>
internal static class BenchCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        BenchOptions options;
        try
        {
            var parsed = new Arguments(args, BenchOptions.FlagNames);
            if (parsed.Unknown(BenchOptions.OptionNames).FirstOrDefault() is { } unknown)
                return Usage.Print(1, $"unknown option --{unknown}");
            options = BenchOptions.Parse(parsed);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            return Usage.Print(1, ex.Message);
        }

        BenchResult result;
        try
        {
            result = options.Mode switch
            {
                "echo" => await BenchEcho.RunAsync(options),
                "broadcast" => await BenchBroadcast.RunAsync(options),
                "idle" => await BenchIdle.RunAsync(options),
                _ => await BenchHandshake.RunAsync(options),
            };
        }
        catch (BenchException ex)
        {
            Console.Error.WriteLine("duplex bench: " + ex.Message);
            return 2;
        }

        if (options.Json)
        {
            using var stdout = Console.OpenStandardOutput();
            result.WriteJson(stdout);
        }
        else result.PrintTable(Console.Out);
        // 2: nothing could be measured; 3: it ran, but with errors (a failed echo check, a lost connection).
        return result.Ops == 0 ? 2 : result.Errors > 0 || !result.Drained ? 3 : 0;
    }
}
