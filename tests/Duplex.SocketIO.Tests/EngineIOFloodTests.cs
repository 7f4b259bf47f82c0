using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// Engine.IO floods, each with the reference server's outcome (engine.io 6.6, checked against the npm
/// server in tests/peers-socketio), while a Socket.IO client's acknowledged echo keeps working.
/// bench/attacks/run.sh runs them at full size against a separate process and measures RSS.
/// </summary>
[Collection(nameof(EngineIOFloodTests))] // allocations are counted process-wide: no other test class runs beside these
[CollectionDefinition(nameof(EngineIOFloodTests), DisableParallelization = true)]
public sealed class EngineIOFloodTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(20) };

    private static Task<SocketIOTestServer> StartAsync(Action<SocketIOOptions>? options = null, bool fastPath = false) =>
        SocketIOTestServer.StartAsync(io => io.OnConnection(socket => socket.On("echo", e => e.AckAsync(e.Args[0]))), options, fastPath);

    private static string Polling(SocketIOTestServer server, string? sid = null) =>
        $"{server.Url}/socket.io/?EIO=4&transport=polling" + (sid is null ? "" : "&sid=" + sid);

    private static async Task<string> HandshakeAsync(SocketIOTestServer server)
    {
        var body = await Http.GetStringAsync(Polling(server));
        Assert.StartsWith("0", body);
        return JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!;
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(string url)
    {
        using var response = await Http.GetAsync(url);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<SocketIOClient> NormalClientAsync(SocketIOTestServer server, string transport = "polling")
    {
        var client = new SocketIOClient(server.BaseUri, new SocketIOClientOptions { Reconnection = false, Transports = [transport] });
        await client.ConnectAsync(Waits.Deadline);
        return client;
    }

    private static async Task EchoAsync(SocketIOClient client, string text)
    {
        var args = await client.Timeout(Waits.Long).EmitWithAckAsync("echo", text);
        Assert.Equal(text, args.Get<string>(0));
    }

    [Fact]
    public async Task Polling_handshakes_that_never_CONNECT_are_closed_at_ConnectTimeout()
    {
        await using var server = await StartAsync(o => o.ConnectTimeout = TimeSpan.FromSeconds(1));
        await using var normal = await NormalClientAsync(server);
        var sids = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => HandshakeAsync(server)));
        await EchoAsync(normal, "during");
        // Each held poll is released when its session closes: a close packet, or (closed before the poll came) 400.
        var polls = await Task.WhenAll(sids.Select(sid => GetAsync(Polling(server, sid)))).WaitAsync(Waits.Long);
        Assert.All(polls, p => Assert.True(p.Body.EndsWith('1') || p.Status == HttpStatusCode.BadRequest, $"{p.Status} {p.Body}"));
        // And the session is gone.
        foreach (var sid in sids.Take(10))
            Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync(Polling(server, sid))).Status);
        await EchoAsync(normal, "after");
        // The client that did CONNECT is still connected, past the timeout.
        Assert.True(normal.IsConnected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WebSocket_handshakes_that_never_CONNECT_are_closed_at_ConnectTimeout(bool fastPath)
    {
        await using var server = await StartAsync(o => o.ConnectTimeout = TimeSpan.FromSeconds(1), fastPath);
        await using var normal = await NormalClientAsync(server, "websocket");
        var uri = new Uri($"ws://127.0.0.1:{server.BaseUri.Port}/socket.io/?EIO=4&transport=websocket");
        var silent = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => WebSocketClient.ConnectAsync(uri)));
        try
        {
            await EchoAsync(normal, "during");
            foreach (var ws in silent)
            {
                // The open packet, then nothing from us: the server ends the session and the WebSocket.
                int messages = 0;
                await foreach (var m in ws.ReadMessagesAsync().WithCancellation(Waits.Deadline))
                {
                    if (messages++ == 0) Assert.StartsWith("0{", m.Text);
                }
                Assert.NotEqual(WebSocketState.Open, ws.State);
            }
            await EchoAsync(normal, "after");
        }
        finally
        {
            foreach (var ws in silent) await ws.DisposeAsync();
        }
    }

    [Fact]
    public async Task Polling_bodies_over_maxPayload_are_answered_413_without_being_buffered()
    {
        // As the reference: 413, and the session stays (engine.io's polling transport drops the request only).
        const int Limit = 100_000;
        await using var server = await StartAsync(o => o.MaxHttpBufferSize = Limit);
        await using var normal = await NormalClientAsync(server);
        var sid = await HandshakeAsync(server);
        var body = Encoding.ASCII.GetBytes("4" + new string('x', 4 * 1024 * 1024));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        int refused = 0;
        for (int i = 0; i < 20; i++)
        {
            // Half announce their length (refused from the header), half are chunked (refused once the limit is read).
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "UTF-8" };
            using var request = new HttpRequestMessage(HttpMethod.Post, Polling(server, sid)) { Content = content };
            if (i % 2 == 1) request.Headers.TransferEncodingChunked = true;
            HttpStatusCode status;
            try
            {
                using var response = await Http.SendAsync(request);
                status = response.StatusCode;
            }
            catch (HttpRequestException)
            {
                continue; // the server answered and closed before the whole body went out
            }
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
            refused++;
        }
        Assert.True(refused >= 10, $"{refused} answered 413");
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        // 20 × 4 MiB were sent; the server keeps at most the limit of each (the client's own copies are not made).
        Assert.True(allocated < 40 * 1024 * 1024, $"{allocated} bytes allocated");
        await EchoAsync(normal, "after");
        // The session that sent them is still open: a CONNECT goes through.
        using var connect = new StringContent("40", Encoding.UTF8, "text/plain");
        Assert.Equal("ok", await (await Http.PostAsync(Polling(server, sid), connect)).Content.ReadAsStringAsync());
        Assert.StartsWith("40{\"sid\":", (await GetAsync(Polling(server, sid))).Body);
    }

    [Fact]
    public async Task Concurrent_polls_are_answered_400_and_close_their_sessions()
    {
        await using var server = await StartAsync();
        await using var normal = await NormalClientAsync(server);
        var sids = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => HandshakeAsync(server)));
        var held = sids.Select(sid => GetAsync(Polling(server, sid))).ToArray();
        await Task.Delay(200); // the held polls arrive first
        var seconds = await Task.WhenAll(sids.Select(sid => GetAsync(Polling(server, sid)))).WaitAsync(Waits.Long);
        Assert.All(seconds, s => Assert.Equal(HttpStatusCode.BadRequest, s.Status));
        // The held poll of each ends with a close packet, and the session is gone.
        Assert.All(await Task.WhenAll(held).WaitAsync(Waits.Long), h => Assert.Equal("1", h.Body));
        foreach (var sid in sids.Take(10))
            Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync(Polling(server, sid))).Status);
        await EchoAsync(normal, "after");
    }
}
