using System.Net;
using System.Net.Sockets;

namespace Duplex.SocketIO.Redis.Tests.Infrastructure;

/// <summary>A real redis-server on a free loopback port, stopped (and restartable on the same port) by the test.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private ChildProcess? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists("/usr/bin/redis-server")) throw new InvalidOperationException("redis-server is not installed (Debian package redis-server; scripts/test.sh installs it)");
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var redis = new RedisServer(port);
        await redis.RestartAsync();
        return redis;
    }

    public async Task RestartAsync()
    {
        _process = ChildProcess.Start("/usr/bin/redis-server", Peers.RepositoryRoot,
            "--bind", "127.0.0.1", "--port", Port.ToString(), "--save", "", "--appendonly", "no", "--protected-mode", "yes");
        await _process.WaitForLineAsync(l => l.Contains("Ready to accept connections"), TimeSpan.FromSeconds(20));
    }

    public async Task StopAsync()
    {
        if (_process is { } p) await p.DisposeAsync();
        _process = null;
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
