using System.Net.Sockets;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Duplex.Integration.Tests;

/// <summary>
/// UseDuplexFastPath: upgrades to eligible endpoints are answered beneath ASP.NET Core's HTTP layer
/// (visible: Kestrel's 101 carries Date and Server headers, the fast path's does not); everything else
/// reaches ASP.NET Core with its bytes intact.
/// </summary>
public class FastPathTests
{
    private static Task<TestServer> StartAsync(Action<WebApplication> map, Action<IServiceCollection>? services = null) =>
        TestServer.StartAsync(map, services: services, fastPath: true);

    private static void MapEcho(WebApplication app, string path = "/echo", Action<WebSocketEndpointOptions>? configure = null) =>
        app.MapWebSocket(path, async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, configure);

    private static bool TookFastPath(string responseHead) =>
        responseHead.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal) && !responseHead.Contains("\r\nServer:", StringComparison.OrdinalIgnoreCase);

    private static byte[] MaskedText(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var frame = new byte[2 + 4 + payload.Length];
        frame[0] = 0x81;
        frame[1] = (byte)(0x80 | payload.Length);
        byte[] key = [1, 2, 3, 4];
        key.CopyTo(frame, 2);
        for (int i = 0; i < payload.Length; i++) frame[6 + i] = (byte)(payload[i] ^ key[i % 4]);
        return frame;
    }

    private static async Task<string> ReadTextFrameAsync(NetworkStream stream)
    {
        var head = new byte[2];
        await stream.ReadExactlyAsync(head).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0x81, head[0]);
        var payload = new byte[head[1] & 0x7F];
        await stream.ReadExactlyAsync(payload).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(payload);
    }

    [Fact]
    public async Task An_eligible_upgrade_is_answered_beneath_the_HTTP_layer_and_frames_sent_with_the_request_are_kept()
    {
        await using var server = await StartAsync(app => MapEcho(app));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        using var stream = tcp.GetStream();
        // The request and the first frame in one write, as an eager client may send them.
        var request = Encoding.ASCII.GetBytes(
            $"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        await stream.WriteAsync(request.Concat(MaskedText("early bird")).ToArray());
        var head = await ReadHeadAsync(stream);
        Assert.True(TookFastPath(head), head);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", head);
        Assert.Equal("early bird", await ReadTextFrameAsync(stream));
    }

    [Fact]
    public async Task A_head_split_across_writes_still_takes_the_fast_path()
    {
        await using var server = await StartAsync(app => MapEcho(app));
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        using var stream = tcp.GetStream();
        var request = Encoding.ASCII.GetBytes(
            "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        // The fast path waits for the rest of a head (within the request-headers timeout) instead of
        // handing the part it has to Kestrel.
        await stream.WriteAsync(request.AsMemory(0, 40));
        await Task.Delay(200);
        await stream.WriteAsync(request.AsMemory(40));
        var head = await ReadHeadAsync(stream);
        Assert.True(TookFastPath(head), head);
        await stream.WriteAsync(MaskedText("split"));
        Assert.Equal("split", await ReadTextFrameAsync(stream));
    }

    [Fact]
    public async Task Duplex_client_subprotocol_and_compression_work_through_the_fast_path()
    {
        await using var server = await StartAsync(app => MapEcho(app, configure: o =>
        {
            o.SelectSubprotocol = offered => offered.Contains("chat.v2") ? "chat.v2" : null;
            o.Connection.Compression.Enabled = true;
        }));
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), new WebSocketClientOptions { Subprotocols = { "chat.v1", "chat.v2" } });
        Assert.Equal("chat.v2", client.Subprotocol);
        Assert.NotNull(client.Compression);
        var text = string.Concat(Enumerable.Repeat("compressible ", 200));
        await client.SendTextAsync(text);
        await foreach (var m in client.ReadMessagesAsync())
        {
            Assert.Equal(text, m.Text);
            break;
        }
        await client.CloseAsync();
        Assert.Equal(CloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Other_requests_and_invalid_handshakes_reach_ASP_NET_Core_unchanged()
    {
        await using var server = await StartAsync(app =>
        {
            MapEcho(app);
            app.MapGet("/", () => "page");
            app.MapPost("/echo-body", async (HttpRequest r) => await new StreamReader(r.Body).ReadToEndAsync());
        });
        using var http = new HttpClient { BaseAddress = server.BaseUri };
        Assert.Equal("page", await http.GetStringAsync("/"));
        var posted = await http.PostAsync("/echo-body", new StringContent("body kept"));
        Assert.Equal("body kept", await posted.Content.ReadAsStringAsync());

        // Version 12: the full path refuses it (426 with the version header), not the fast path.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        using var raw = tcp.GetStream();
        await raw.WriteAsync(Encoding.ASCII.GetBytes("GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n"));
        var refused = await ReadHeadAsync(raw);
        Assert.StartsWith("HTTP/1.1 426", refused);
        Assert.Contains("Sec-WebSocket-Version: 13", refused);
    }

    private static void MapJudged(WebApplication app, bool readsUser = false) =>
        app.MapWebSocket("/judged",
            (c, context) => c.SendTextAsync("full " + context.Request.QueryString).AsTask(),
            new FastPathEndpoint(
                request =>
                {
                    if (!request.Head.Query.Contains("fast=1", StringComparison.Ordinal)) return false;
                    request.State = "judged";
                    return true;
                },
                (c, request) => c.SendTextAsync($"fast {request.Head.Path}{request.Head.Query} {request.State} {request.RemoteIpAddress} {request.IsHttps}").AsTask(),
                readsUser),
            configure: null);

    private static async Task<(string Head, string? Text)> UpgradeAsync(TestServer server, string target)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var head = await ReadHeadAsync(stream);
        return (head, head.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal) ? await ReadTextFrameAsync(stream) : null);
    }

    [Fact]
    public async Task An_endpoint_that_judges_requests_serves_those_it_accepts_here_and_leaves_the_rest_to_ASP_NET_Core()
    {
        await using var server = await StartAsync(app => MapJudged(app));
        var (head, text) = await UpgradeAsync(server, "/judged?fast=1&x=y");
        Assert.True(TookFastPath(head), head);
        Assert.Equal("fast /judged?fast=1&x=y judged 127.0.0.1 False", text);
        // One trailing slash is ignored, as routing ignores it.
        (head, text) = await UpgradeAsync(server, "/judged/?fast=1");
        Assert.True(TookFastPath(head), head);
        Assert.Equal("fast /judged/?fast=1 judged 127.0.0.1 False", text);
        // Declined: the endpoint's own handler, through ASP.NET Core (Kestrel's 101).
        (head, text) = await UpgradeAsync(server, "/judged?fast=0");
        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.False(TookFastPath(head), head);
        Assert.Equal("full ?fast=0", text);
    }

    [Fact]
    public async Task A_judged_endpoint_that_hands_on_the_user_takes_the_full_path_when_authentication_is_configured()
    {
        await using var server = await StartAsync(app => MapJudged(app, readsUser: true),
            services => services.AddAuthentication("test").AddCookie("test"));
        var (head, text) = await UpgradeAsync(server, "/judged?fast=1");
        Assert.False(TookFastPath(head), head);
        Assert.Equal("full ?fast=1", text);
    }

    [Fact]
    public async Task Endpoints_with_authorization_always_take_the_full_path()
    {
        await using var server = await StartAsync(app =>
        {
            app.UseAuthorization();
            MapEcho(app, "/open");
            app.MapWebSocket("/private", c => Task.CompletedTask).RequireAuthorization(p => p.RequireAssertion(_ => false));
        }, services => services.AddAuthorization().AddAuthentication());
        var (open, openHead) = await RawPeer.ConnectAsync(server.WebSocketUri("/open"));
        await open.DisposeAsync();
        Assert.True(TookFastPath(openHead), openHead);
        var (closed, closedHead) = await RawPeer.ConnectAsync(server.WebSocketUri("/private"));
        await closed.DisposeAsync();
        Assert.False(closedHead.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), closedHead);
    }

    [Fact]
    public async Task A_fallback_authorization_policy_turns_the_fast_path_off()
    {
        await using var server = await StartAsync(app =>
        {
            app.UseAuthorization();
            MapEcho(app);
        }, services => services.AddAuthentication().Services.AddAuthorization(o =>
            o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAssertion(_ => false).Build()));
        var (stream, head) = await RawPeer.ConnectAsync(server.WebSocketUri("/echo"));
        await stream.DisposeAsync();
        Assert.False(head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), head);
    }

    [Fact]
    public async Task Handshake_limits_apply_on_the_fast_path_with_status_and_Retry_After()
    {
        await using var server = await StartAsync(app => MapEcho(app, configure: o => o.Limits.MaxConnectionsPerAddress = 1));
        var first = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var (stream, head) = await RawPeer.ConnectAsync(server.WebSocketUri("/echo"));
        await stream.DisposeAsync();
        Assert.StartsWith("HTTP/1.1 429", head);
        Assert.Contains("Retry-After:", head);
        await first.CloseAsync();
        // The slot is given back when the connection ends.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var (again, againHead) = await RawPeer.ConnectAsync(server.WebSocketUri("/echo"));
            await again.DisposeAsync();
            if (againHead.StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) break;
            Assert.True(DateTime.UtcNow < deadline, "the slot was never released: " + againHead);
            await Task.Delay(50);
        }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one, cts.Token) == 0) break;
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString(head.ToArray());
    }
}
