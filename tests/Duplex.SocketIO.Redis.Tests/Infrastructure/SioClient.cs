using System.Text.Json;

namespace Duplex.SocketIO.Redis.Tests.Infrastructure;

/// <summary>The npm socket.io-client (tests/peers-socketio-redis/client.js) connected to one node, reporting each event it gets.</summary>
public sealed class SioClient : IAsyncDisposable
{
    private SioClient(ChildProcess process, string id)
    {
        Process = process;
        Id = id;
    }

    public ChildProcess Process { get; }

    public string Id { get; }

    public static async Task<SioClient> ConnectAsync(ClusterNode node, string name, params string[] rooms)
    {
        Peers.RequireNodeModules();
        var process = ChildProcess.Start("node", Peers.NodeDirectory, "client.js", node.Url, name, string.Join(',', rooms));
        try
        {
            var ready = await process.WaitForStepAsync("ready", timeout: TimeSpan.FromSeconds(30));
            return new SioClient(process, ready.GetProperty("id").GetString()!);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>The next event named <paramref name="eventName"/> (skipping others) that satisfies <paramref name="match"/>; its args.</summary>
    public async Task<JsonElement> NextEventAsync(string eventName, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null)
    {
        var step = await Process.WaitForStepAsync("event",
            e => e.GetProperty("event").GetString() == eventName && (match is null || match(e.GetProperty("args"))), timeout);
        return step.GetProperty("args");
    }

    /// <summary>The names of every event received until (and including) the first <paramref name="marker"/> event.</summary>
    public async Task<List<string>> EventsUntilAsync(string marker, TimeSpan? timeout = null)
    {
        var seen = new List<string>();
        await Process.WaitForLineAsync(line =>
        {
            if (!line.StartsWith('{')) return false;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.GetProperty("step").GetString() != "event") return false;
            var name = root.GetProperty("event").GetString()!;
            seen.Add(name);
            return name == marker;
        }, timeout);
        return seen;
    }

    /// <summary>Emits with an ack and waits for it (the client prints "acked").</summary>
    public async Task EmitAsync(string eventName, params object[] args)
    {
        await Process.WriteLineAsync(JsonSerializer.Serialize(new { emit = eventName, args }));
        await Process.WaitForStepAsync("acked", e => e.GetProperty("emit").GetString() == eventName);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
