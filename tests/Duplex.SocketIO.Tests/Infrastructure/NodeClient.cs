using System.Diagnostics;
using System.Text.Json;

namespace Duplex.SocketIO.Tests.Infrastructure;

/// <summary>
/// Runs a scenario of tests/peers-socketio/client.js (the real npm socket.io-client) against a server
/// and returns the steps it reported. The process is killed if it outlives the deadline.
/// </summary>
public static class NodeClient
{
    public static string PeersDirectory { get; } = FindPeers();

    private static string FindPeers()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "peers-socketio");
            if (File.Exists(Path.Combine(candidate, "client.js"))) return candidate;
        }
        throw new InvalidOperationException("tests/peers-socketio not found above " + AppContext.BaseDirectory);
    }

    public static async Task<NodeRun> RunAsync(string scenario, string url, object? options = null, TimeSpan? deadline = null)
    {
        if (!Directory.Exists(Path.Combine(PeersDirectory, "node_modules", "socket.io-client")))
            throw new InvalidOperationException("socket.io-client is not installed: run (cd tests/peers-socketio && npm ci)");
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = PeersDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("client.js");
        start.ArgumentList.Add(scenario);
        start.ArgumentList.Add(url);
        if (options is not null) start.ArgumentList.Add(JsonSerializer.Serialize(options, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(deadline ?? TimeSpan.FromSeconds(20));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        var steps = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
        return new NodeRun(process.ExitCode, steps, await stderr);
    }
}

public sealed record NodeRun(int ExitCode, IReadOnlyList<JsonElement> Steps, string Stderr)
{
    public IEnumerable<JsonElement> All(string step) => Steps.Where(s => s.GetProperty("step").GetString() == step);

    public JsonElement Step(string step) => All(step).FirstOrDefault() is { ValueKind: JsonValueKind.Object } found
        ? found
        : throw new Xunit.Sdk.XunitException($"no step '{step}' in: {this}");

    /// <summary>Fails with everything the client said unless it ran to its end.</summary>
    public NodeRun EnsureDone()
    {
        if (ExitCode != 0 || !All("done").Any()) throw new Xunit.Sdk.XunitException($"node client failed: {this}");
        return this;
    }

    public override string ToString() => $"exit {ExitCode}; steps: {string.Join(" | ", Steps.Select(s => s.GetRawText()))}; stderr: {Stderr}";
}
