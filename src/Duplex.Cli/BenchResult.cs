using System.Globalization;
using System.Text.Json;

namespace Duplex.Cli;

/// <summary>One run's figures, printed as a table or as JSON (the form bench/compare.sh reads).</summary>
internal sealed class BenchResult
{
    public required string Mode { get; init; }
    public required string Unit { get; init; }
    public required BenchOptions Options { get; init; }
    public long Ops { get; set; }
    public double Seconds { get; set; }
    public BenchHistogram? Latency { get; set; }
    public string LatencyName { get; set; } = "latency";
    public long Errors { get; set; }
    public long Lost { get; set; }
    public string? FirstError { get; set; }
    public bool Drained { get; set; } = true;
    public BenchServerProbe.Sample? ServerStart { get; set; }
    public BenchServerProbe.Sample? ServerEnd { get; set; }
    public List<(string Name, double Value)> Extras { get; } = [];

    public double OpsPerSecond => Seconds > 0 ? Ops / Seconds : 0;

    public double? ServerCpuMicroseconds => ServerStart is { } a && ServerEnd is { } b ? b.CpuMicroseconds - a.CpuMicroseconds : null;

    public double? ServerCpuPerOp => ServerCpuMicroseconds is { } cpu && Ops > 0 ? cpu / Ops : null;

    /// <summary>Share of one core the server used over the window.</summary>
    public double? ServerCores => ServerCpuMicroseconds is { } cpu && Seconds > 0 ? cpu / 1e6 / Seconds : null;

    public void Apply(BenchWindow window)
    {
        Ops = window.Ops;
        Seconds = window.Seconds;
        ServerStart = window.ServerStart;
        ServerEnd = window.ServerEnd;
        Drained = window.Drained;
    }

    public void RecordError(Exception ex)
    {
        lock (this)
        {
            Errors++;
            FirstError ??= ex is BenchException or System.Net.Sockets.SocketException or IOException ? ex.Message : ex.ToString();
        }
    }

    private List<(string Name, string Value)> Parameters()
    {
        var o = Options;
        var list = new List<(string, string)> { ("target", $"ws://{o.Target.HostHeader}{o.Target.Path}") };
        switch (Mode)
        {
            case "echo":
                list.Add(("connections × depth", $"{o.Connections} × {o.Depth}"));
                list.Add(("message", $"{o.Size:N0} B {(o.Text ? "text" : "binary")}"));
                break;
            case "broadcast":
                list.Add(("receivers", o.Connections.ToString("N0", CultureInfo.InvariantCulture)));
                list.Add(("message", $"{o.Size:N0} B {(o.Text ? "text" : "binary")}, publisher window {o.Depth}"));
                list.Add(("publish rate", o.Rate > 0 ? $"{o.Rate:N0}/s" : "flat out"));
                break;
            case "idle":
                list.Add(("connections", o.Connections.ToString("N0", CultureInfo.InvariantCulture)));
                break;
            case "handshake":
                list.Add(("parallel loops", o.Connections.ToString(CultureInfo.InvariantCulture)));
                break;
        }
        if (o.Compression) list.Add(("compression", "permessage-deflate offered (no context takeover)"));
        return list;
    }

    public void PrintTable(TextWriter output)
    {
        var rows = Parameters();
        rows.Add(("window", $"{Seconds:F2} s"));
        var plural = Unit == "delivery" ? "deliveries" : Unit + "s";
        rows.Add((plural, Ops.ToString("N0", CultureInfo.InvariantCulture)));
        if (Mode != "idle") rows.Add((plural + "/s", OpsPerSecond.ToString("N0", CultureInfo.InvariantCulture)));
        if (Latency is { } h && h.Count > 0)
        {
            rows.Add((LatencyName + " p50", Micros(h.Quantile(0.50))));
            rows.Add((LatencyName + " p99", Micros(h.Quantile(0.99))));
            rows.Add((LatencyName + " p99.9", Micros(h.Quantile(0.999))));
            rows.Add((LatencyName + " max", Micros(h.Max)));
        }
        foreach (var (name, value) in Extras) rows.Add((name, value.ToString("N1", CultureInfo.InvariantCulture)));
        if (ServerCpuPerOp is { } perOp && Mode != "idle")
        {
            rows.Add(($"server CPU per {Unit}", $"{perOp:N2} µs"));
            rows.Add(("server CPU", $"{ServerCores:P0} of a core"));
        }
        if (ServerEnd is { } end) rows.Add(("server RSS", $"{end.RssKiB / 1024.0:N1} MiB"));
        rows.Add(("errors", Errors.ToString(CultureInfo.InvariantCulture) + (FirstError is null ? "" : $" (first: {FirstError})")));
        if (Lost > 0) rows.Add(("lost", Lost.ToString("N0", CultureInfo.InvariantCulture)));
        if (!Drained) rows.Add(("drain", "in-flight messages did not all come back; connections aborted"));

        int width = rows.Max(r => r.Name.Length);
        output.WriteLine($"duplex bench {Mode}");
        foreach (var (name, value) in rows) output.WriteLine($"  {name.PadRight(width)}  {value}");
    }

    private static string Micros(long nanoseconds) =>
        nanoseconds >= 10_000_000 ? $"{nanoseconds / 1e6:N1} ms" : $"{nanoseconds / 1e3:N1} µs";

    public void WriteJson(Stream output)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        var o = Options;
        json.WriteStartObject();
        json.WriteString("mode", Mode);
        json.WriteString("unit", Unit);
        json.WriteString("target", $"ws://{o.Target.HostHeader}{o.Target.Path}");
        json.WriteNumber("connections", o.Connections);
        json.WriteNumber("depth", o.Depth);
        json.WriteNumber("size", o.Size);
        json.WriteBoolean("text", o.Text);
        json.WriteNumber("rate", o.Rate);
        json.WriteBoolean("compression", o.Compression);
        json.WriteNumber("seconds", Math.Round(Seconds, 4));
        json.WriteNumber("ops", Ops);
        json.WriteNumber("ops_per_s", Math.Round(OpsPerSecond, 1));
        if (Latency is { } h && h.Count > 0)
        {
            json.WriteStartObject("latency_us");
            json.WriteNumber("p50", h.Quantile(0.50) / 1e3);
            json.WriteNumber("p99", h.Quantile(0.99) / 1e3);
            json.WriteNumber("p999", h.Quantile(0.999) / 1e3);
            json.WriteNumber("max", h.Max / 1e3);
            json.WriteNumber("samples", h.Count);
            json.WriteEndObject();
        }
        foreach (var (name, value) in Extras) json.WriteNumber(name.Replace(' ', '_'), Math.Round(value, 3));
        json.WriteNumber("errors", Errors);
        if (FirstError is not null) json.WriteString("first_error", FirstError);
        json.WriteNumber("lost", Lost);
        json.WriteBoolean("drained", Drained);
        if (ServerEnd is { } end)
        {
            json.WriteStartObject("server");
            json.WriteNumber("pid", o.ServerPid);
            json.WriteNumber("cpu_us", Math.Round(ServerCpuMicroseconds!.Value, 0));
            if (ServerCpuPerOp is { } perOp) json.WriteNumber("cpu_us_per_op", Math.Round(perOp, 4));
            json.WriteNumber("cores", Math.Round(ServerCores ?? 0, 3));
            json.WriteNumber("rss_kib_start", ServerStart!.Value.RssKiB);
            json.WriteNumber("rss_kib", end.RssKiB);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.Flush();
        output.Write("\n"u8);
    }
}
