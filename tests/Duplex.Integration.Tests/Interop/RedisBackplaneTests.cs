using System.Net;
using System.Net.Sockets;
using Duplex.Protocol;

namespace Duplex.Integration.Tests.Interop;

/// <summary>A real redis-server, started on a free loopback port and stopped after.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private PeerProcess _process;

    private RedisServer(PeerProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<RedisServer> StartAsync(int port = 0)
    {
        if (port == 0)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var process = await LaunchAsync(port);
        return new RedisServer(process, port);
    }

    private static async Task<PeerProcess> LaunchAsync(int port)
    {
        var redis = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server"
            : throw new PeerMissingException("redis-server is not installed (Debian package redis-server; scripts/test.sh installs it)");
        var process = PeerProcess.Start(redis, "--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no", "--protected-mode", "yes");
        await process.WaitForLineAsync(l => l.Contains("Ready to accept connections"), TimeSpan.FromSeconds(20));
        return process;
    }

    public async Task StopAsync() => await _process.DisposeAsync();

    public async Task RestartAsync() => _process = await LaunchAsync(Port);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

/// <summary>Two `duplex serve --redis` processes on one Redis: /broadcast spans both.</summary>
public class RedisBackplaneTests
{
    /// <summary>Reads messages with a timeout, keeping a read that timed out for the next call.</summary>
    private sealed class Reader(WebSocketConnection connection)
    {
        private readonly IAsyncEnumerator<WebSocketMessage> _messages = connection.ReadMessagesAsync().GetAsyncEnumerator();
        private Task<bool>? _pending;

        public async Task<string> NextTextAsync(TimeSpan timeout)
        {
            _pending ??= _messages.MoveNextAsync().AsTask();
            if (await Task.WhenAny(_pending, Task.Delay(timeout)) != _pending) throw new TimeoutException("no message within " + timeout);
            bool more = await _pending;
            _pending = null;
            Assert.True(more, "the connection ended");
            return _messages.Current.Text;
        }

        /// <summary>The next message that is not a late copy of the warm-up retries (pub/sub may deliver those late).</summary>
        public async Task<string> NextSkippingWarmUpAsync(TimeSpan timeout)
        {
            while (true)
            {
                var text = await NextTextAsync(timeout);
                if (!text.StartsWith("hello from B", StringComparison.Ordinal)) return text;
            }
        }
    }

    [Fact]
    public async Task Broadcast_on_one_node_reaches_clients_of_the_other_and_survives_a_redis_restart()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await DuplexServe.StartAsync("--redis", $"127.0.0.1:{redis.Port}");
        await using var nodeB = await DuplexServe.StartAsync("--redis", $"127.0.0.1:{redis.Port}");
        await using var onA = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{nodeA.Port}/broadcast"));
        await using var onB = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{nodeB.Port}/broadcast"));
        var fromA = new Reader(onA);
        var fromB = new Reader(onB);

        // Subscriptions are set up as the nodes start; retry the first message until it crosses.
        string? seen = null;
        for (int attempt = 0; attempt < 20 && seen is null; attempt++)
        {
            await onB.SendTextAsync($"hello from B {attempt}");
            Assert.StartsWith("hello from B", await fromB.NextTextAsync(TimeSpan.FromSeconds(10))); // the sender gets its own
            try { seen = await fromA.NextTextAsync(TimeSpan.FromMilliseconds(500)); } catch (TimeoutException) { }
        }
        Assert.NotNull(seen);
        Assert.StartsWith("hello from B", seen);
        // Drain any late copies of the retries before the next check.
        try { while (true) await fromA.NextTextAsync(TimeSpan.FromMilliseconds(300)); } catch (TimeoutException) { }

        await onA.SendTextAsync("hello from A");
        Assert.Equal("hello from A", await fromA.NextSkippingWarmUpAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("hello from A", await fromB.NextSkippingWarmUpAsync(TimeSpan.FromSeconds(10)));

        // A burst crosses in the order it was sent (a concurrent subscription handler once reordered it).
        for (int i = 0; i < 300; i++) await onA.SendTextAsync($"burst {i}");
        for (int i = 0; i < 300; i++) Assert.Equal($"burst {i}", await fromB.NextTextAsync(TimeSpan.FromSeconds(10)));
        for (int i = 0; i < 300; i++) Assert.Equal($"burst {i}", await fromA.NextTextAsync(TimeSpan.FromSeconds(10)));

        // Redis goes away: each node still serves its own clients, and nothing crashes.
        await redis.StopAsync();
        await onA.SendTextAsync("local only");
        Assert.Equal("local only", await fromA.NextSkippingWarmUpAsync(TimeSpan.FromSeconds(10)));
        await nodeA.Process.WaitForLineAsync(l => l.Contains("backplane: Redis connection lost"), TimeSpan.FromSeconds(20));

        // Redis comes back on the same port: the nodes reconnect by themselves and broadcasts cross again.
        await redis.RestartAsync();
        string? crossed = await UntilCrossedAsync(onA, fromA, fromB, "after restart", attempts: 60);
        Assert.NotNull(crossed);
        Assert.StartsWith("after restart", crossed);
        Assert.Equal(WebSocketState.Open, onA.State);
        Assert.Equal(WebSocketState.Open, onB.State);
    }

    [Fact]
    public async Task Nodes_start_while_Redis_is_down_serve_their_own_clients_and_join_up_when_it_comes()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        await using var nodeA = await DuplexServe.StartAsync("--redis", $"127.0.0.1:{redis.Port}");
        await using var nodeB = await DuplexServe.StartAsync("--redis", $"127.0.0.1:{redis.Port}");
        await using var onA = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{nodeA.Port}/broadcast"));
        await using var onB = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{nodeB.Port}/broadcast"));
        var fromA = new Reader(onA);
        var fromB = new Reader(onB);
        await onA.SendTextAsync("local while down");
        Assert.Equal("local while down", await fromA.NextTextAsync(TimeSpan.FromSeconds(10)));

        await redis.RestartAsync();
        string? crossed = await UntilCrossedAsync(onA, fromA, fromB, "after start", attempts: 80);
        Assert.NotNull(crossed);
        Assert.StartsWith("after start", crossed); // not the message sent while Redis was down
    }

    /// <summary>Broadcasts from node A until one reaches node B (the nodes joining up again); what B got, or null.</summary>
    private static async Task<string?> UntilCrossedAsync(WebSocketConnection onA, Reader fromA, Reader fromB, string prefix, int attempts)
    {
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            await onA.SendTextAsync($"{prefix} {attempt}");
            await fromA.NextTextAsync(TimeSpan.FromSeconds(10));
            try { return await fromB.NextTextAsync(TimeSpan.FromMilliseconds(500)); } catch (TimeoutException) { }
        }
        return null;
    }
}
