namespace Duplex.SocketIO.Redis.Tests.Infrastructure;

/// <summary>Where the test's peers live: the repository, the Node scripts, and the .NET cluster node.</summary>
public static class Peers
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string NodeDirectory => Path.Combine(RepositoryRoot, "tests", "peers-socketio-redis");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Duplex.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Duplex.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The SocketIORedisNode build of the same configuration as this test assembly.</summary>
    public static string DuplexNodeDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/<Configuration>/net10.0/
            var dll = Path.Combine(RepositoryRoot, "examples", "SocketIORedisNode", "bin", configuration, "net10.0", "SocketIORedisNode.dll");
            return File.Exists(dll) ? dll : throw new InvalidOperationException("build examples/SocketIORedisNode first: " + dll);
        }
    }

    public static void RequireNodeModules()
    {
        if (!Directory.Exists(Path.Combine(NodeDirectory, "node_modules", "@socket.io", "redis-adapter")))
            throw new InvalidOperationException("Node peers are not installed: run (cd tests/peers-socketio-redis && npm ci)");
    }
}
