using System.Globalization;
using System.Net;

namespace Duplex.Cli;

/// <summary>What <c>duplex bench</c> was asked to do. Every run is bounded in time and count.</summary>
internal sealed class BenchOptions
{
    public required string Mode { get; init; }
    public required BenchTarget Target { get; init; }
    /// <summary>broadcast --publish-to: the publisher's server, when it is another node of a cluster.</summary>
    public BenchTarget? PublishTarget { get; init; }
    public int Connections { get; init; }
    public int Depth { get; init; }
    public int Size { get; init; }
    public bool Text { get; init; }
    public double Duration { get; init; }
    public double Warmup { get; init; }
    public long Messages { get; init; }
    public double Rate { get; init; }
    public bool Json { get; init; }
    public bool Progress { get; init; }
    public bool Compression { get; init; }
    public int ServerPid { get; init; }
    public int Sources { get; init; }
    public int ConnectParallelism { get; init; }
    /// <summary>handshake --close: how each connection ends (see <see cref="BenchHandshake"/>).</summary>
    public string CloseMode { get; init; } = "client";

    /// <summary>Longest the in-flight messages may take to come back once the window is over.</summary>
    public TimeSpan DrainTimeout { get; } = TimeSpan.FromSeconds(15);

    public static readonly HashSet<string> FlagNames = ["text", "binary", "json", "no-progress", "compression"];

    public static readonly HashSet<string> OptionNames =
        ["connections", "depth", "size", "duration", "warmup", "messages", "rate", "pid", "sources", "receivers", "loops", "connect-parallelism", "publish-to", "close"];

    public static BenchOptions Parse(Arguments args)
    {
        if (args.Positionals.Count == 0) throw new ArgumentException("bench needs a mode: echo, broadcast, idle or handshake");
        var mode = args.Positionals[0];
        string defaultPath = mode switch
        {
            "echo" or "idle" or "handshake" => "/echo",
            "broadcast" => "/broadcast",
            _ => throw new ArgumentException($"unknown bench mode '{mode}' (echo, broadcast, idle, handshake)"),
        };
        var url = args.Positionals.Count > 1 ? args.Positionals[1] : "ws://127.0.0.1:8080" + defaultPath;
        var target = ParseTarget(url, defaultPath);
        int connections = mode switch
        {
            "broadcast" => args.GetInt("receivers", args.GetInt("connections", 100)),
            "handshake" => args.GetInt("loops", args.GetInt("connections", 4)),
            "idle" => args.GetInt("connections", 1000),
            _ => args.GetInt("connections", 1),
        };
        var options = new BenchOptions
        {
            Mode = mode,
            Target = target,
            PublishTarget = args.Get("publish-to") is { } publishTo ? ParseTarget(publishTo, defaultPath) : null,
            Connections = Positive(connections, "connections"),
            Depth = Positive(args.GetInt("depth", mode == "broadcast" ? 8 : 1), "depth"),
            Size = ParseSize(args.Get("size") ?? "32"),
            Text = args.Flag("text"),
            Duration = ParseSeconds(args.Get("duration"), mode == "idle" ? 5 : 10, "duration"),
            Warmup = ParseSeconds(args.Get("warmup"), 1, "warmup", allowZero: true),
            Messages = args.Get("messages") is { } m ? long.Parse(m, CultureInfo.InvariantCulture) : 0,
            Rate = args.Get("rate") is { } r ? double.Parse(r, CultureInfo.InvariantCulture) : 0,
            Json = args.Flag("json"),
            Progress = !args.Flag("no-progress") && !Console.IsErrorRedirected,
            Compression = args.Flag("compression"),
            ServerPid = args.GetInt("pid", 0),
            Sources = Positive(args.GetInt("sources", connections > 20000 ? (connections + 19999) / 20000 : 1), "sources"),
            ConnectParallelism = Positive(args.GetInt("connect-parallelism", 64), "connect-parallelism"),
            CloseMode = args.Get("close") ?? "client",
        };
        if (options.CloseMode is not ("client" or "server" or "tcp"))
            throw new ArgumentException($"--close '{options.CloseMode}': client, server or tcp");
        if (options.Mode == "broadcast" && options.Size < 16) throw new ArgumentException("broadcast messages carry a 16-byte sequence and timestamp: --size 16 or more");
        if (options.Size > 256 * 1024 * 1024) throw new ArgumentException("--size is at most 256m");
        if (options.Connections > 200_000) throw new ArgumentException("at most 200000 connections");
        if (options.Sources > 250) throw new ArgumentException("at most 250 source addresses");
        if (options.ServerPid != 0 && BenchServerProbe.Check(options.ServerPid) is { } problem) throw new ArgumentException(problem);
        return options;
    }

    /// <summary>Source address for connection <paramref name="index"/>: 127.0.0.1, 127.0.0.2 … when past one address's ports.</summary>
    public IPAddress? SourceFor(int index)
    {
        if (Sources <= 1 || !IPAddress.IsLoopback(Target.EndPoint.Address) || Target.EndPoint.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            return null;
        return new IPAddress(new byte[] { 127, 0, 0, (byte)(1 + index % Sources) });
    }

    private static int Positive(int value, string name) =>
        value > 0 ? value : throw new ArgumentException($"--{name} must be positive");

    private static double ParseSeconds(string? text, double fallback, string name, bool allowZero = false)
    {
        if (text is null) return fallback;
        text = text.TrimEnd('s');
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 0 || (!allowZero && seconds == 0) || seconds > 3600)
            throw new ArgumentException($"--{name} takes seconds, up to 3600");
        return seconds;
    }

    public static int ParseSize(string text)
    {
        var lower = text.ToLowerInvariant().TrimEnd('b', 'i');
        long factor = 1;
        if (lower.EndsWith('k')) { factor = 1024; lower = lower[..^1]; }
        else if (lower.EndsWith('m')) { factor = 1024 * 1024; lower = lower[..^1]; }
        if (!long.TryParse(lower, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n * factor is < 0 or > int.MaxValue)
            throw new ArgumentException($"--size '{text}': a byte count such as 32, 16k or 1m");
        return (int)(n * factor);
    }

    private static BenchTarget ParseTarget(string url, string defaultPath)
    {
        try
        {
            return BenchTarget.Parse(url, defaultPath);
        }
        catch (BenchException ex)
        {
            throw new ArgumentException(ex.Message);
        }
    }
}
