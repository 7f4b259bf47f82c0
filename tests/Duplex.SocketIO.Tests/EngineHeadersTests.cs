using System.Net;
using System.Net.WebSockets;
using System.Text;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// The engine's <c>initial_headers</c> and <c>headers</c> hooks, seen by real HTTP and WebSocket peers
/// (HttpClient, ClientWebSocket): which answers carry the headers the application adds.
/// </summary>
public sealed class EngineHeadersTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static Task<SocketIOTestServer> StartAsync() =>
        SocketIOTestServer.StartAsync(io =>
        {
            io.Engine.InitialHeaders += (headers, request) => headers["X-Initial"] = "transport=" + request.Query["transport"];
            io.Engine.Headers += (headers, request) => headers["X-Every"] = request.Method;
            io.Engine.Headers += (_, _) => throw new InvalidOperationException("a failing hook does not take the answer down");
        }, o => o.CookieName = "io");

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Fact]
    public async Task Initial_headers_go_on_the_handshake_only_and_headers_on_every_polling_answer_but_not_on_refusals()
    {
        await using var server = await StartAsync();
        string polling = $"{server.Url}/socket.io/?EIO=4&transport=polling";

        var (status, body, handshake) = await SendAsync(HttpMethod.Get, polling);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("transport=polling", Header(handshake, "X-Initial"));
        Assert.Equal("GET", Header(handshake, "X-Every"));
        Assert.StartsWith("io=", Header(handshake, "Set-Cookie")); // the session cookie is there too
        var sid = System.Text.Json.JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!;

        var (postStatus, _, post) = await SendAsync(HttpMethod.Post, polling + "&sid=" + sid, "40");
        Assert.Equal(HttpStatusCode.OK, postStatus);
        Assert.Null(Header(post, "X-Initial"));
        Assert.Equal("POST", Header(post, "X-Every"));

        var (pollStatus, pollBody, poll) = await SendAsync(HttpMethod.Get, polling + "&sid=" + sid);
        Assert.Equal(HttpStatusCode.OK, pollStatus);
        Assert.StartsWith("40{", pollBody);
        Assert.Null(Header(poll, "X-Initial"));
        Assert.Equal("GET", Header(poll, "X-Every"));

        var (refusedStatus, _, refused) = await SendAsync(HttpMethod.Get, polling + "&sid=nope");
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);
        Assert.Null(Header(refused, "X-Every"));
        Assert.Null(Header(refused, "X-Initial"));
        handshake.Dispose();
        post.Dispose();
        poll.Dispose();
        refused.Dispose();
    }

    [Fact]
    public async Task The_websocket_answer_carries_headers_and_initial_headers_only_when_it_opens_the_session()
    {
        await using var server = await StartAsync();
        string ws = server.Url.Replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket";

        async Task<IReadOnlyDictionary<string, IEnumerable<string>>> UpgradeAsync(string url)
        {
            using var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new Uri(url), timeout.Token);
            Assert.Equal(HttpStatusCode.SwitchingProtocols, socket.HttpStatusCode);
            var headers = socket.HttpResponseHeaders!;
            socket.Abort();
            return headers;
        }

        var opened = await UpgradeAsync(ws);
        Assert.Equal("transport=websocket", string.Join(",", opened["X-Initial"]));
        Assert.Equal("GET", string.Join(",", opened["X-Every"]));

        var (_, body, handshake) = await SendAsync(HttpMethod.Get, $"{server.Url}/socket.io/?EIO=4&transport=polling");
        handshake.Dispose();
        var sid = System.Text.Json.JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!;
        var upgraded = await UpgradeAsync(ws + "&sid=" + sid);
        Assert.False(upgraded.ContainsKey("X-Initial"));
        Assert.Equal("GET", string.Join(",", upgraded["X-Every"]));
    }
}
