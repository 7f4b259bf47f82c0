using System.Net;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// How a polling session ends when the client closes it (as the official engine.io-protocol suite
/// checks it), and bare Engine.IO hosted with <c>MapEngineIO</c>.
/// </summary>
public sealed class EngineIOCloseAndBareTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string> HandshakeAsync(string url)
    {
        var (status, body) = await SendAsync(HttpMethod.Get, url);
        Assert.Equal(HttpStatusCode.OK, status);
        return JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!;
    }

    /// <summary>Waits (bounded) until the session has a poll in hand.</summary>
    private static async Task WaitForPendingPollAsync(EngineIOServer engine, string sid)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!(engine.TryGetSession(sid, out var session) && session.IsWritable))
        {
            Assert.True(DateTime.UtcNow < deadline, "the poll never reached the server");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Client_close_ends_the_pending_poll_with_a_noop_and_the_session()
    {
        await using var server = await SocketIOTestServer.StartAsync(_ => { });
        string polling = $"{server.Url}/socket.io/?EIO=4&transport=polling";
        var sid = await HandshakeAsync(polling);
        var poll = SendAsync(HttpMethod.Get, polling + "&sid=" + sid);
        await WaitForPendingPollAsync(server.IO.Engine, sid);

        Assert.Equal((HttpStatusCode.OK, "ok"), await SendAsync(HttpMethod.Post, polling + "&sid=" + sid, "1"));
        Assert.Equal((HttpStatusCode.OK, "6"), await poll.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, polling + "&sid=" + sid)).Status);
    }

    [Fact]
    public async Task Client_close_that_overtakes_the_poll_still_answers_that_poll()
    {
        await using var server = await SocketIOTestServer.StartAsync(_ => { });
        string polling = $"{server.Url}/socket.io/?EIO=4&transport=polling";
        var sid = await HandshakeAsync(polling);

        Assert.Equal((HttpStatusCode.OK, "ok"), await SendAsync(HttpMethod.Post, polling + "&sid=" + sid, "1"));
        // The client's poll was sent with the close but arrives after it: it is answered, not refused.
        Assert.Equal((HttpStatusCode.OK, "6"), await SendAsync(HttpMethod.Get, polling + "&sid=" + sid));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, polling + "&sid=" + sid)).Status);
    }

    [Fact]
    public async Task Server_close_ends_the_pending_poll_with_a_close_packet()
    {
        await using var server = await SocketIOTestServer.StartAsync(_ => { });
        string polling = $"{server.Url}/socket.io/?EIO=4&transport=polling";
        var sid = await HandshakeAsync(polling);
        var poll = SendAsync(HttpMethod.Get, polling + "&sid=" + sid);
        await WaitForPendingPollAsync(server.IO.Engine, sid);

        Assert.True(server.IO.Engine.TryGetSession(sid, out var session));
        session.Close();
        Assert.Equal((HttpStatusCode.OK, "1"), await poll.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task MapEngineIO_serves_bare_engineio_at_its_own_path()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        var engine = new EngineIOServer(new EngineIOOptions());
        engine.Connection += session => session.Message += (s, packet) => s.Send(EnginePacket.Message("echo:" + packet.Text));
        app.MapEngineIO(engine);
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            string polling = $"{address}/engine.io/?EIO=4&transport=polling";
            var sid = await HandshakeAsync(polling);
            Assert.Equal((HttpStatusCode.OK, "ok"), await SendAsync(HttpMethod.Post, polling + "&sid=" + sid, "4hello\u001e4world"));
            Assert.Equal((HttpStatusCode.OK, "4echo:hello\u001e4echo:world"), await SendAsync(HttpMethod.Get, polling + "&sid=" + sid));
            // Not Socket.IO's path.
            Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"{address}/socket.io/?EIO=4&transport=polling")).Status);
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await app.StopAsync(timeout.Token);
        }
    }
}
