using System.Diagnostics;
using Duplex.Conformance.Cases;
using Duplex.Conformance.Judging;
using Duplex.Conformance.Reporting;
using Duplex.Conformance.Running;

namespace Duplex.Conformance;

/// <summary>
/// Command line of the conformance harness: <c>client</c> tests a server, <c>server</c> tests a
/// client, <c>list</c> prints the selected cases. Exit code 1 when any case FAILED, 2 on bad usage.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage:
          Duplex.Conformance client --url ws://127.0.0.1:PORT/PATH [options]
          Duplex.Conformance server --port PORT --client-cmd "COMMAND {url}" [--agent NAME] [options]
          Duplex.Conformance list [--cases SPEC]
        options:
          --cases SPEC     cases to run, e.g. 1-7,9,10 (default) or 1.1.1,6.4.*
          --exclude SPEC   cases to skip, same syntax
          --out DIR        where report.json and summary.md go (default artifacts/conformance)
          --full-size      chapters 9, 12 and 13 with Autobahn's sizes and message counts instead of scaled ones
          --testdata DIR   Autobahn's payload files for chapters 12/13 (default: tests/conformance/testdata
                           of the repository, found by walking up from the working directory or the harness binary)
          --verbose        print every case as it finishes, not only those that are not OK
          --patience N     multiply the time a case waits for the peer before giving up (default 1);
                           for clients started cold once per case, whose first frames pay for JIT
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        string mode = args[0];
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] is "--full-size" or "--verbose")
            {
                options[args[i]] = "true";
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                options[args[i]] = args[++i];
            }
            else
            {
                Console.Error.WriteLine($"unexpected argument '{args[i]}'\n{Usage}");
                return 2;
            }
        }

        if (options.TryGetValue("--patience", out var patience))
        {
            if (!double.TryParse(patience, System.Globalization.CultureInfo.InvariantCulture, out var factor) || factor < 1)
            {
                Console.Error.WriteLine($"--patience needs a number of at least 1\n{Usage}");
                return 2;
            }
            Duplex.Conformance.Session.CaseSession.Patience = factor;
        }
        var sizes = new CaseSizes(options.ContainsKey("--full-size"));
        IReadOnlyList<ConformanceCase> cases;
        try
        {
            cases = CaseSelection.Select(CaseCatalog.All(sizes), options.GetValueOrDefault("--cases", CaseSelection.Default), options.GetValueOrDefault("--exclude"));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        if (cases.Any(c => c.Chapter is 12 or 13) && mode != "list" && TestData.Locate(options.GetValueOrDefault("--testdata")) is { } missing)
        {
            Console.Error.WriteLine(missing);
            return 2;
        }

        if (mode == "list")
        {
            foreach (var c in cases)
            {
                Console.WriteLine($"{c.Id,-8} {c.Description}");
            }
            return 0;
        }

        bool verbose = options.ContainsKey("--verbose");
        void Progress(CaseResult r)
        {
            bool ok = r.Behavior == Verdict.Ok && r.BehaviorClose == Verdict.Ok;
            if (verbose || !ok)
            {
                Console.Error.WriteLine($"  {r.Id,-8} {r.Behavior,-13} close {r.BehaviorClose,-16} {r.DurationMs,6} ms  {(ok ? "" : r.Result + " " + r.ResultClose)}");
            }
        }

        string outDir = options.GetValueOrDefault("--out", Path.Combine("artifacts", "conformance"));
        Directory.CreateDirectory(outDir);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        List<CaseResult> results;
        string target;
        string? agent;
        switch (mode)
        {
            case "client" when options.TryGetValue("--url", out var urlText) && Uri.TryCreate(urlText, UriKind.Absolute, out var url) && url.Scheme == "ws":
            {
                target = url.ToString();
                Console.Error.WriteLine($"fuzzing client: {cases.Count} cases against {target}");
                var client = new FuzzingClient(url, Progress);
                results = await client.RunAsync(cases);
                agent = options.GetValueOrDefault("--agent") ?? client.Agent;
                break;
            }
            case "server" when options.TryGetValue("--port", out var portText) && int.TryParse(portText, out int port)
                && options.TryGetValue("--client-cmd", out var command) && command.Contains("{url}", StringComparison.Ordinal):
            {
                try
                {
                    _ = CommandLine.Split(command);
                }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine(e.Message);
                    return 2;
                }
                target = command;
                agent = options.GetValueOrDefault("--agent", "client-under-test");
                Console.Error.WriteLine($"fuzzing server on 127.0.0.1:{port}: {cases.Count} cases for `{command}`");
                results = await new FuzzingServer(port, command, agent, Path.Combine(outDir, "client-output.log"), Progress).RunAsync(cases);
                break;
            }
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }

        ReportWriter.Write(outDir, new ReportWriter.RunInfo(mode, target, agent, sizes.FullSize, started, clock.ElapsedMilliseconds), results);
        foreach (var line in ReportWriter.ConsoleLines(results))
        {
            Console.WriteLine(line);
        }
        int failed = results.Count(r => Verdict.IsFailure(r.Behavior, r.BehaviorClose));
        Console.WriteLine($"{results.Count} cases, {failed} failing, {clock.Elapsed.TotalSeconds:0.0} s; reports in {Path.GetFullPath(outDir)}");
        return failed > 0 ? 1 : 0;
    }
}
