using System.Net;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests;

/// <summary>The Engine.IO protocol over raw HTTP and WebSocket: what the reference server answers, byte for byte where it matters.</summary>
public sealed class EngineIOHttpTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static Task<SocketIOTestServer> StartAsync(Action<SocketIOOptions>? options = null) =>
        SocketIOTestServer.StartAsync(io => io.OnConnection(socket => socket.On("echo", e => e.AckAsync(e.Args[0]))), options);

    private static string Polling(SocketIOTestServer server, string? sid = null) =>
        $"{server.Url}/socket.io/?EIO=4&transport=polling" + (sid is null ? "" : "&sid=" + sid);

    private static async Task<(HttpStatusCode Status, string Body, string? ContentType)> SendAsync(HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.ToString());
    }

    private static async Task<string> HandshakeAsync(SocketIOTestServer server)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, Polling(server));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("0", body);
        return JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!;
    }

    private static void AssertError(HttpStatusCode expectedStatus, int code, string message, (HttpStatusCode Status, string Body, string? ContentType) answer)
    {
        Assert.Equal(expectedStatus, answer.Status);
        Assert.Equal("application/json", answer.ContentType);
        Assert.Equal($"{{\"code\":{code},\"message\":\"{message}\"}}", answer.Body);
    }

    [Fact]
    public async Task Handshake_answers_the_open_packet_with_the_reference_defaults()
    {
        await using var server = await StartAsync();
        var (status, body, contentType) = await SendAsync(HttpMethod.Get, Polling(server));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/plain; charset=UTF-8", contentType);
        Assert.StartsWith("0{", body);
        var open = JsonDocument.Parse(body[1..]).RootElement;
        Assert.Equal(20, open.GetProperty("sid").GetString()!.Length);
        Assert.Equal(["websocket"], open.GetProperty("upgrades").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal(25000, open.GetProperty("pingInterval").GetInt32());
        Assert.Equal(20000, open.GetProperty("pingTimeout").GetInt32());
        Assert.Equal(1000000, open.GetProperty("maxPayload").GetInt32());
    }

    [Fact]
    public async Task Bad_requests_get_the_reference_error_codes()
    {
        await using var server = await StartAsync(o => o.AllowRequest = ctx => ValueTask.FromResult(ctx.Request.Query["deny"] == "1" ? "go away" : null));
        var root = server.Url + "/socket.io/";
        AssertError(HttpStatusCode.BadRequest, 0, "Transport unknown", await SendAsync(HttpMethod.Get, root + "?EIO=4&transport=carrier-pigeon"));
        AssertError(HttpStatusCode.BadRequest, 0, "Transport unknown", await SendAsync(HttpMethod.Get, root + "?EIO=4"));
        AssertError(HttpStatusCode.BadRequest, 1, "Session ID unknown", await SendAsync(HttpMethod.Get, Polling(server, "nope")));
        AssertError(HttpStatusCode.BadRequest, 2, "Bad handshake method", await SendAsync(HttpMethod.Post, Polling(server), "40"));
        AssertError(HttpStatusCode.BadRequest, 3, "Bad request", await SendAsync(HttpMethod.Get, root + "?EIO=4&transport=websocket"));
        AssertError(HttpStatusCode.BadRequest, 5, "Unsupported protocol version", await SendAsync(HttpMethod.Get, root + "?EIO=3&transport=polling"));
        AssertError(HttpStatusCode.BadRequest, 5, "Unsupported protocol version", await SendAsync(HttpMethod.Get, root + "?transport=polling"));
        AssertError(HttpStatusCode.Forbidden, 4, "go away", await SendAsync(HttpMethod.Get, Polling(server) + "&deny=1"));

        // A polling session asked for over the other transport without an upgrade.
        var sid = await HandshakeAsync(server);
        AssertError(HttpStatusCode.BadRequest, 3, "Bad request", await SendAsync(HttpMethod.Get, root + "?EIO=4&transport=websocket&sid=" + sid));
    }

    [Fact]
    public async Task Body_over_maxHttpBufferSize_is_refused_with_413()
    {
        await using var server = await StartAsync(o => o.MaxHttpBufferSize = 1000);
        var sid = await HandshakeAsync(server);
        var (status, _, _) = await SendAsync(HttpMethod.Post, Polling(server, sid), "4" + new string('x', 2000));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        // Within the limit is fine.
        var (ok, body, contentType) = await SendAsync(HttpMethod.Post, Polling(server, sid), "40");
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal("ok", body);
        Assert.Equal("text/html", contentType);
    }

    [Fact]
    public async Task Polling_carries_socketio_packets_joined_by_record_separators()
    {
        await using var server = await StartAsync();
        var sid = await HandshakeAsync(server);
        Assert.Equal("ok", (await SendAsync(HttpMethod.Post, Polling(server, sid), "40")).Body);
        var connect = (await SendAsync(HttpMethod.Get, Polling(server, sid))).Body;
        Assert.StartsWith("40{\"sid\":\"", connect);
        // Two events in one body; both acks come back in one poll, separated by the record separator.
        Assert.Equal("ok", (await SendAsync(HttpMethod.Post, Polling(server, sid), "421[\"echo\",\"a\"]\u001e422[\"echo\",{\"b\":1}]")).Body);
        var acks = (await SendAsync(HttpMethod.Get, Polling(server, sid))).Body;
        Assert.Equal("431[\"a\"]\u001e432[{\"b\":1}]", acks);
    }

    [Fact]
    public async Task Missed_pong_closes_the_session_and_a_pong_keeps_it()
    {
        await using var server = await StartAsync(o =>
        {
            o.PingInterval = TimeSpan.FromMilliseconds(150);
            o.PingTimeout = TimeSpan.FromMilliseconds(150);
        });
        var alive = await HandshakeAsync(server);
        var silent = await HandshakeAsync(server);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("2", (await SendAsync(HttpMethod.Get, Polling(server, alive))).Body);
            Assert.Equal("ok", (await SendAsync(HttpMethod.Post, Polling(server, alive), "3")).Body);
        }
        // The silent session got its ping (waiting in the buffer), never answered, and was closed.
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, Polling(server, silent))).Status);
        Assert.Equal("2", (await SendAsync(HttpMethod.Get, Polling(server, alive))).Body);
    }

    [Fact]
    public async Task A_second_pending_poll_fails_the_session()
    {
        await using var server = await StartAsync();
        var sid = await HandshakeAsync(server);
        var first = SendAsync(HttpMethod.Get, Polling(server, sid));
        await Task.Delay(100);
        var second = await SendAsync(HttpMethod.Get, Polling(server, sid));
        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.Equal("1", (await first).Body); // the pending poll is ended with a close packet
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, Polling(server, sid))).Status);
    }

    [Fact]
    public async Task Cors_answers_preflight_and_polls_for_allowed_origins()
    {
        await using var server = await StartAsync(o => o.Cors = new() { Origins = ["https://chat.example"], Credentials = true });
        using var preflight = new HttpRequestMessage(HttpMethod.Options, Polling(server));
        preflight.Headers.Add("Origin", "https://chat.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type");
        using var answer = await Http.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal("https://chat.example", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", answer.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.Contains("POST", answer.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Equal("content-type", answer.Headers.GetValues("Access-Control-Allow-Headers").Single());

        using var poll = new HttpRequestMessage(HttpMethod.Get, Polling(server));
        poll.Headers.Add("Origin", "https://elsewhere.example");
        using var refused = await Http.SendAsync(poll);
        Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Upgrade_probes_flushes_the_pending_poll_with_a_noop_then_switches()
    {
        await using var server = await StartAsync();
        var sid = await HandshakeAsync(server);
        var pending = SendAsync(HttpMethod.Get, Polling(server, sid));
        await Task.Delay(50);
        var ws = await WebSocketClient.ConnectAsync(new Uri($"ws://{server.BaseUri.Authority}/socket.io/?EIO=4&transport=websocket&sid={sid}"));
        await using var _ = ws;
        var messages = ws.ReadMessagesAsync().GetAsyncEnumerator();
        await ws.SendTextAsync("2probe");
        Assert.True(await messages.MoveNextAsync());
        Assert.Equal("3probe", messages.Current.Text);
        Assert.Equal("6", (await pending.WaitAsync(TimeSpan.FromSeconds(5))).Body);
        await ws.SendTextAsync("5");
        await ws.SendTextAsync("40");
        Assert.True(await messages.MoveNextAsync());
        Assert.StartsWith("40{\"sid\":", messages.Current.Text);
        await ws.SendTextAsync("420[\"echo\",\"over ws\"]");
        Assert.True(await messages.MoveNextAsync());
        Assert.Equal("430[\"over ws\"]", messages.Current.Text);
        // Polling is over for this session.
        AssertError(HttpStatusCode.BadRequest, 3, "Bad request", await SendAsync(HttpMethod.Get, Polling(server, sid)));
    }

    [Fact]
    public async Task Refused_websocket_upgrades_get_400_with_the_message()
    {
        await using var server = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{server.Url}/socket.io/?EIO=4&transport=websocket&sid=unknown");
        request.Headers.Add("Connection", "Upgrade");
        request.Headers.Add("Upgrade", "websocket");
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
        using var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Session ID unknown", await response.Content.ReadAsStringAsync());
    }
}
