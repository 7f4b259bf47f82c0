using System.Net;
using System.Net.Sockets;

namespace Duplex.SocketIO.Redis.Tests.Infrastructure;

/// <summary>A real redis-server on a free loopback port, stopped (and restartable on the same port) by the test.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private ChildProcess? _process;

    private readonly string? _dataDirectory;

    private RedisServer(int port, string? dataDirectory)
    {
        Port = port;
        _dataDirectory = dataDirectory;
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    /// <param name="persistent">Keep the data across a restart (append-only file, fsync on every write), as a
    /// production Redis does; otherwise a restart comes back empty.</param>
    public static async Task<RedisServer> StartAsync(bool persistent = false)
    {
        if (!File.Exists("/usr/bin/redis-server")) throw new InvalidOperationException("redis-server is not installed (Debian package redis-server; scripts/test.sh installs it)");
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var redis = new RedisServer(port, persistent ? Directory.CreateTempSubdirectory("duplex-redis-").FullName : null);
        await redis.RestartAsync();
        return redis;
    }

    public async Task RestartAsync()
    {
        string[] persistence = _dataDirectory is null
            ? ["--appendonly", "no"]
            : ["--appendonly", "yes", "--appendfsync", "always", "--dir", _dataDirectory];
        _process = ChildProcess.Start("/usr/bin/redis-server", Peers.RepositoryRoot,
            ["--bind", "127.0.0.1", "--port", Port.ToString(), "--save", "", .. persistence, "--protected-mode", "yes"]);
        await _process.WaitForLineAsync(l => l.Contains("Ready to accept connections"), TimeSpan.FromSeconds(20));
    }

    public async Task StopAsync()
    {
        if (_process is { } p) await p.DisposeAsync();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_dataDirectory is not null)
            try { Directory.Delete(_dataDirectory, recursive: true); } catch (IOException) { }
    }
}
