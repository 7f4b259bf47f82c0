using System.Reflection;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// Where the real peers live on this machine. Each accessor throws a <see cref="PeerMissingException"/>
/// naming what to install when its peer is absent: an interop test that quietly skips would report
/// green on a machine that never talked to the peer at all.
/// </summary>
internal static class InteropPeers
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    public static string RepoRoot => s_repoRoot.Value;

    public static string PeersDirectory => Path.Combine(RepoRoot, "tests", "peers");

    public static string Script(string name)
    {
        var path = Path.Combine(PeersDirectory, name);
        return File.Exists(path) ? path : throw new PeerMissingException($"peer script {path} is missing");
    }

    /// <summary>Node, with the pinned packages of tests/peers installed.</summary>
    public static string Node
    {
        get
        {
            var node = FindOnPath("node") ?? throw new PeerMissingException("node is not on PATH (Node 20+ is needed for the ws and Chromium interop tests)");
            foreach (var package in new[] { "ws", "playwright-core" })
            {
                if (!Directory.Exists(Path.Combine(PeersDirectory, "node_modules", package)))
                    throw new PeerMissingException($"tests/peers/node_modules/{package} is missing: run `npm ci` in tests/peers (scripts/test.sh does)");
            }
            return node;
        }
    }

    /// <summary>
    /// Debian's interpreter, not whatever python3 comes first on PATH: python3-websockets is
    /// installed for /usr/bin/python3 only.
    /// </summary>
    public static string Python
    {
        get
        {
            const string python = "/usr/bin/python3";
            if (!File.Exists(python)) throw new PeerMissingException($"{python} is missing: apt-get install python3 python3-websockets");
            if (!Directory.Exists("/usr/lib/python3/dist-packages/websockets"))
                throw new PeerMissingException("python websockets is not installed for /usr/bin/python3: apt-get install python3-websockets");
            return python;
        }
    }

    public static string Chromium
    {
        get
        {
            const string chromium = "/usr/bin/chromium";
            return File.Exists(chromium) ? chromium : throw new PeerMissingException($"{chromium} is missing: apt-get install chromium");
        }
    }

    /// <summary>
    /// The `duplex` command built in the same configuration as this test assembly (the test project
    /// references Duplex.Cli without referencing its assembly, so building the tests builds it).
    /// </summary>
    public static string DuplexCliDll
    {
        get
        {
            var configuration = typeof(InteropPeers).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var path = Path.Combine(RepoRoot, "src", "Duplex.Cli", "bin", configuration, "net10.0", "Duplex.Cli.dll");
            return File.Exists(path) ? path : throw new PeerMissingException($"{path} is missing: build src/Duplex.Cli in {configuration}");
        }
    }

    /// <summary>The dotnet host that runs these tests (so the CLI runs on the same runtime).</summary>
    public static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : FindOnPath("dotnet") ?? throw new PeerMissingException("dotnet is not on PATH and DOTNET_HOST_PATH is not set");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Duplex.slnx"))) return dir.FullName;
        }
        throw new PeerMissingException($"no Duplex.slnx above {AppContext.BaseDirectory}: cannot find the repository root");
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A peer an interop test needs is not installed; the message says how to get it.</summary>
public sealed class PeerMissingException(string message) : Exception("Interop peer missing: " + message);
