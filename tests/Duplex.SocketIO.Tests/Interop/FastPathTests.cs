using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Interop;

/// <summary>
/// Socket.IO behind <c>UseDuplexFastPath()</c>: a new WebSocket-only session is served beneath ASP.NET
/// Core's HTTP layer (seen on the wire: Kestrel's 101 carries a Server header, the fast path's does not)
/// and looks to the application exactly as on the full path; everything the fast path declines
/// (polling, upgrades of polling sessions, refusals, options that need the HttpContext) gets the full
/// path's answer, byte for byte.
/// </summary>
public sealed class FastPathTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static Task<SocketIOTestServer> StartAsync(bool fastPath, Action<SocketIOOptions>? options = null, Action<SocketIOServer>? extra = null)
    {
        var app = new ChatApp();
        return SocketIOTestServer.StartAsync(io =>
        {
            app.Configure(io);
            extra?.Invoke(io);
            io.OnConnection(socket => socket.On("handshake", e =>
            {
                var h = socket.Handshake;
                return e.AckAsync(new
                {
                    query = h.Query,
                    headers = h.Headers,
                    url = h.Url,
                    address = h.Address?.ToString(),
                    secure = h.Secure,
                    authenticated = h.User?.Identity?.IsAuthenticated,
                });
            }));
        }, options, fastPath);
    }

    private static SortedDictionary<string, string> Dict(JsonElement e, params string[] except) =>
        new(e.EnumerateObject().Where(p => !except.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value.GetString()!), StringComparer.Ordinal);

    [Fact]
    public async Task A_websocket_only_client_is_served_by_the_fast_path_and_sees_the_handshake_the_full_path_gives()
    {
        JsonElement fast, full;
        int fastPort, fullPort;
        await using (var server = await StartAsync(fastPath: true))
        {
            fast = (await NodeClient.RunAsync("handshake-view", server.Url)).EnsureDone().Step("handshake");
            fastPort = server.BaseUri.Port;
        }
        await using (var server = await StartAsync(fastPath: false))
        {
            full = (await NodeClient.RunAsync("handshake-view", server.Url)).EnsureDone().Step("handshake");
            fullPort = server.BaseUri.Port;
        }
        // Who answered the 101: the fast path (no Server header) on one, Kestrel's HTTP layer on the other.
        Assert.Equal(JsonValueKind.Null, fast.GetProperty("upgrade").GetProperty("server").ValueKind);
        Assert.Equal("Kestrel", full.GetProperty("upgrade").GetProperty("server").GetString());
        foreach (var run in new[] { fast, full })
        {
            Assert.Equal("websocket", run.GetProperty("transport").GetString());
            Assert.Equal(1, run.GetProperty("echo").GetProperty("n").GetInt32());
        }

        var fastView = fast.GetProperty("view");
        var fullView = full.GetProperty("view");
        var query = Dict(fastView.GetProperty("query"));
        Assert.Equal("abc", query["token"]);
        Assert.Equal("a+b é", query["two words"]);
        Assert.Equal("", query["empty"]);
        Assert.Equal("4", query["EIO"]);
        Assert.Equal("websocket", query["transport"]);
        Assert.Equal(Dict(fullView.GetProperty("query")), query);

        // The same client request, so the same headers, but for the key (random) and the host (the port).
        var headers = Dict(fastView.GetProperty("headers"), "sec-websocket-key", "host");
        Assert.Equal("yes", headers["x-duplex-test"]);
        Assert.Equal("one, two", headers["x-list"]);
        Assert.Equal(Dict(fullView.GetProperty("headers"), "sec-websocket-key", "host"), headers);
        Assert.Equal($"127.0.0.1:{fastPort}", fastView.GetProperty("headers").GetProperty("host").GetString());
        Assert.Equal($"127.0.0.1:{fullPort}", fullView.GetProperty("headers").GetProperty("host").GetString());

        foreach (var name in new[] { "url", "address", "secure", "authenticated" })
            Assert.Equal(fullView.GetProperty(name).ToString(), fastView.GetProperty(name).ToString());
        Assert.StartsWith("/socket.io/?", fastView.GetProperty("url").GetString());
        Assert.Equal("127.0.0.1", fastView.GetProperty("address").GetString());
        Assert.False(fastView.GetProperty("authenticated").GetBoolean());
    }

    [Fact]
    public async Task Polling_then_upgrade_still_works_on_a_fast_path_server()
    {
        await using var server = await StartAsync(fastPath: true);
        var run = (await NodeClient.RunAsync("upgrade", server.Url)).EnsureDone();
        Assert.Equal("polling", run.Step("connected").GetProperty("transport").GetString());
        Assert.Equal("websocket", run.Step("upgraded").GetProperty("transport").GetString());
        var echoes = run.All("echo").ToArray();
        Assert.Equal("before", echoes[0].GetProperty("value").GetString());
        Assert.Equal("after", echoes[1].GetProperty("value").GetString());
        Assert.Equal("websocket", echoes[1].GetProperty("transport").GetString());
    }

    private static async Task<string> SendUpgradeAsync(SocketIOTestServer server, string target, bool wholeResponse)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.BaseUri.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        using var timeout = new CancellationTokenSource(Patience);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        // A refusal is read to the end (the server closes: Connection: close); a 101 up to its empty line.
        for (int reads = 0; reads < 1000; reads++)
        {
            int n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0) break;
            received.Write(buffer, 0, n);
            var text = Encoding.UTF8.GetString(received.ToArray());
            if (!wholeResponse && text.Contains("\r\n\r\n", StringComparison.Ordinal)) return text[..(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)];
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }

    // The answer without its Date line, the one part that differs between two servers' answers.
    private static string WithoutDate(string response) =>
        string.Join("\r\n", response.Split("\r\n").Where(l => !l.StartsWith("Date:", StringComparison.OrdinalIgnoreCase)));

    [Theory]
    [InlineData("/socket.io/?EIO=3&transport=websocket", null, "Unsupported protocol version")]
    [InlineData("/socket.io/?EIO=4&transport=carrier-pigeon", null, "Transport unknown")]
    [InlineData("/socket.io/?EIO=4&transport=websocket&sid=no-such-session", null, "Session ID unknown")]
    [InlineData("/socket.io/?EIO=4&transport=polling", null, "Bad request")]
    [InlineData("/socket.io/?EIO=4&transport=websocket", "not you", "not you")]
    public async Task A_refused_upgrade_on_the_fast_paths_route_gets_the_full_paths_answer(string target, string? allowRequestRefusal, string message)
    {
        Action<SocketIOOptions>? options = allowRequestRefusal is null ? null : o => o.AllowRequest = _ => ValueTask.FromResult<string?>(allowRequestRefusal);
        string fast, full;
        await using (var server = await StartAsync(fastPath: true, options)) fast = await SendUpgradeAsync(server, target, wholeResponse: true);
        await using (var server = await StartAsync(fastPath: false, options)) full = await SendUpgradeAsync(server, target, wholeResponse: true);
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", fast);
        Assert.Contains("\r\nServer: Kestrel\r\n", fast);
        Assert.Contains(message, fast);
        Assert.Equal(WithoutDate(full), WithoutDate(fast));
    }

    [Theory]
    [InlineData("allow-request")]
    [InlineData("cookie")]
    [InlineData("initial-headers")]
    [InlineData("headers")]
    public async Task Options_that_need_the_HttpContext_keep_the_upgrade_on_the_full_path(string option)
    {
        await using var server = await StartAsync(fastPath: true, o =>
        {
            if (option == "allow-request") o.AllowRequest = _ => ValueTask.FromResult<string?>(null);
            if (option == "cookie") o.CookieName = "io";
        }, io =>
        {
            if (option == "initial-headers") io.Engine.InitialHeaders += (headers, _) => headers["X-Hook"] = "initial";
            if (option == "headers") io.Engine.Headers += (headers, _) => headers["X-Hook"] = "every";
        });
        var head = await SendUpgradeAsync(server, "/socket.io/?EIO=4&transport=websocket", wholeResponse: false);
        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.Contains("\r\nServer: Kestrel\r\n", head);
        // The hooks' headers are on the 101, as without the fast path.
        if (option == "initial-headers") Assert.Contains("\r\nX-Hook: initial\r\n", head);
        if (option == "headers") Assert.Contains("\r\nX-Hook: every\r\n", head);
    }

    [Fact]
    public async Task Without_those_options_the_same_upgrade_is_answered_by_the_fast_path()
    {
        await using var server = await StartAsync(fastPath: true);
        var head = await SendUpgradeAsync(server, "/socket.io/?EIO=4&transport=websocket", wholeResponse: false);
        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.DoesNotContain("\r\nServer:", head);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", head);
    }
}
