using Duplex.SocketIO.Redis.Tests.Infrastructure;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary><c>duplex serve --redis</c>: two serve processes on one real Redis run one Socket.IO chat.</summary>
[Collection("cluster")]
public class ServeClusterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static string CliDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            var dll = Path.Combine(Peers.RepositoryRoot, "src", "Duplex.Cli", "bin", configuration, "net10.0", "Duplex.Cli.dll");
            return File.Exists(dll) ? dll : throw new InvalidOperationException("build src/Duplex.Cli first: " + dll);
        }
    }

    private static async Task<(ChildProcess Process, string Url)> StartServeAsync(RedisServer redis)
    {
        var process = ChildProcess.Start("dotnet", Peers.RepositoryRoot, CliDll, "serve", "--host", "127.0.0.1", "--port", "0", "--redis", redis.Address);
        try
        {
            var line = await process.WaitForLineAsync(l => l.Contains("listening on http://", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            var start = line.IndexOf("http://", StringComparison.Ordinal);
            var url = line[start..].Split(' ', ',')[0];
            return (process, url);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    private static async Task<(ChildProcess Process, string Id)> JoinAsync(string url, string room)
    {
        Peers.RequireNodeModules();
        var process = ChildProcess.Start("node", Peers.NodeDirectory, "chat-client.js", url, room);
        try
        {
            var ready = await process.WaitForStepAsync("ready", timeout: TimeSpan.FromSeconds(30));
            return (process, ready.GetProperty("id").GetString()!);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task The_seed_chat_spans_two_serve_processes_rooms_included()
    {
        await using var redis = await RedisServer.StartAsync();
        var (a, urlA) = await StartServeAsync(redis);
        await using var _a = a;
        var (b, urlB) = await StartServeAsync(redis);
        await using var _b = b;

        var (alice, _) = await JoinAsync(urlA, "lobby");
        await using var _alice = alice;
        // Both servers subscribe at start, but give B's subscription a moment to be in place: retry
        // the join until alice (on A) hears bob (on B) arrive in the room.
        string? bobId = null;
        ChildProcess? bob = null;
        var deadline = DateTime.UtcNow + Wait;
        while (bobId is null)
        {
            var (candidate, id) = await JoinAsync(urlB, "lobby");
            try
            {
                await alice.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "user-joined"
                    && e.GetProperty("args")[0].GetString() == id, TimeSpan.FromSeconds(3));
                (bob, bobId) = (candidate, id);
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
                await candidate.DisposeAsync();
            }
        }
        await using var _bob = bob!;

        // Every `message` goes to everyone, on every server.
        await bob!.WriteLineAsync("""{"emit":"message","args":["hello from B"]}""");
        var heard = await alice.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "message"
            && e.GetProperty("args")[0].GetString() == "hello from B", Wait);
        Assert.Equal("hello from B", heard.GetProperty("args")[0].GetString());
        await alice.WriteLineAsync("""{"emit":"message","args":["hello from A"]}""");
        await bob.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "message"
            && e.GetProperty("args")[0].GetString() == "hello from A", Wait);
    }
}
