using System.Net.Http.Json;
using System.Text.Json;

namespace Duplex.SocketIO.Redis.Tests.Infrastructure;

/// <summary>
/// One Socket.IO server of the cluster as a separate process — the Duplex node
/// (examples/SocketIORedisNode) or a Node socket.io server with @socket.io/redis-adapter
/// (tests/peers-socketio-redis/server.js) — driven through the control API both expose (/ctl/...).
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private ClusterNode(ChildProcess process, string name, string url)
    {
        Process = process;
        Name = name;
        Url = url;
    }

    public ChildProcess Process { get; }

    public string Name { get; }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url { get; }

    /// <param name="flags">More arguments: "--adapter", "streams" for the streams adapter; "--recovery" for connection state recovery.</param>
    public static Task<ClusterNode> StartDuplexAsync(RedisServer redis, string name, params string[] flags) =>
        StartAsync(ChildProcess.Start("dotnet", Peers.RepositoryRoot, [Peers.DuplexNodeDll, "--redis", redis.Address, "--name", name, .. flags]), name);

    /// <param name="flags">"streams" for @socket.io/redis-streams-adapter; "recovery" for connection state recovery.</param>
    public static Task<ClusterNode> StartNodeAsync(RedisServer redis, string name, params string[] flags)
    {
        Peers.RequireNodeModules();
        return StartAsync(ChildProcess.Start("node", Peers.NodeDirectory, ["server.js", redis.Port.ToString(), name, .. flags]), name);
    }

    private static async Task<ClusterNode> StartAsync(ChildProcess process, string name)
    {
        try
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            return new ClusterNode(process, name, line.Split(' ')[1]);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public async Task<JsonElement> GetAsync(string pathAndQuery)
    {
        try
        {
            return await Http.GetFromJsonAsync<JsonElement>(Url + pathAndQuery);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException($"GET {pathAndQuery} on node {Name} failed: {ex.Message}\n{Process.Transcript}", ex);
        }
    }

    /// <summary>A counter of the "Duplex" meter (Duplex nodes only), e.g. "duplex.socketio.redis.errors:connection".</summary>
    public async Task<long> CounterAsync(string key)
    {
        var metrics = await GetAsync("/ctl/metrics");
        return metrics.TryGetProperty(key, out var v) ? v.GetInt64() : 0;
    }

    /// <summary>Polls until the cluster has <paramref name="servers"/> servers as this node counts them.</summary>
    public async Task WaitForServerCountAsync(int servers, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        int last = 0;
        while (DateTime.UtcNow < deadline)
        {
            last = (await GetAsync("/ctl/count")).GetProperty("servers").GetInt32();
            if (last == servers) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"node {Name} counts {last} servers, not {servers}");
    }

    public Task KillAsync() => Process.KillAsync();

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
