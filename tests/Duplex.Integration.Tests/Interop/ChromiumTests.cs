using System.Text.Json;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

using Microsoft.Extensions.DependencyInjection;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// Headless Chromium, the browser's own WebSocket, driven by tests/peers/browser.js (playwright-core
/// over Debian's chromium).
/// </summary>
public sealed class ChromiumTests
{
    private static readonly TimeSpan BrowserTimeout = TimeSpan.FromSeconds(45);

    private static PeerProcess StartBrowser(params string[] arguments)
    {
        _ = InteropPeers.Chromium;
        return PeerProcess.Start(InteropPeers.Node, [InteropPeers.Script("browser.js"), .. arguments]);
    }

    [Fact]
    public async Task Demo_page_of_duplex_serve_echoes_a_message_and_closes_with_1000()
    {
        await using var serve = await DuplexServe.StartAsync("--verbose"); // --verbose: one log line per close
        const string message = "hello from chromium ✓";
        await using var browser = StartBrowser("demo", serve.BaseUri.ToString(), message);
        JsonElement report;
        try
        {
            report = await browser.ReadJsonAsync(BrowserTimeout);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"{ex.Message}\n--- duplex serve:\n{serve.Process.Transcript}", ex);
        }

        var log = report.GetProperty("log").EnumerateArray()
            .Select(li => (Kind: li.GetProperty("kind").GetString()!, Text: li.GetProperty("text").GetString()!))
            .ToArray();
        string Entry(string kind) => log.Single(li => li.Kind == kind).Text;
        Assert.EndsWith($"open: ws://127.0.0.1:{serve.Port}/echo", Entry("open"));
        Assert.EndsWith($"received: {message}", Entry("received"));
        // The page writes "(not clean)" when the close handshake did not finish.
        Assert.EndsWith("closed: code 1000", Entry("closed"));
        Assert.DoesNotContain(log, li => li.Kind == "error");
        Assert.Equal("closed", report.GetProperty("status").GetString());
        // The server saw the page's close frame: socket.close(1000, 'bye').
        await serve.Process.WaitForLineAsync(l => l.Contains("closed: 1000 bye", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Browser_sees_a_refused_upgrade_as_error_then_close_1006()
    {
        var origins = new List<string?>();
        await using var server = await TestServer.StartAsync(app =>
        {
            app.MapGet("/", () => Results.Content("<!doctype html><title>probe</title>", "text/html"));
            app.MapWebSocket("/echo", async c =>
            {
                await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
            });
            app.MapWebSocket("/guarded", _ => Task.CompletedTask, o => o.ValidateOrigin = origin =>
            {
                lock (origins) origins.Add(origin);
                return false;
            });
        });

        // The same refusal seen by the Duplex client: the status the browser hides from scripts.
        var refused = await Assert.ThrowsAsync<WebSocketHandshakeException>(() =>
            WebSocketClient.ConnectAsync(server.WebSocketUri("/guarded"), new WebSocketClientOptions().AddHeader("Origin", "http://evil.example")));
        Assert.Equal(HandshakeCheck.Status, refused.Check);
        Assert.Equal(403, refused.StatusCode);

        await using var browser = StartBrowser("probe", server.BaseUri.ToString(),
            server.WebSocketUri("/echo").ToString(), server.WebSocketUri("/guarded").ToString());
        var probes = (await browser.ReadJsonAsync(BrowserTimeout)).GetProperty("probes").EnumerateArray().ToArray();

        // Control: the same page reaches an endpoint that accepts it, and closes it cleanly.
        var accepted = probes[0];
        Assert.Equal(["open", "close"], Events(accepted));
        Assert.Equal(1000, accepted.GetProperty("code").GetInt32());
        Assert.True(accepted.GetProperty("wasClean").GetBoolean());

        // RFC 6455 §4.1: a non-101 answer fails the connection; the browser reports error, then close 1006.
        var guarded = probes[1];
        Assert.Equal(["error", "close"], Events(guarded));
        Assert.Equal(1006, guarded.GetProperty("code").GetInt32());
        Assert.False(guarded.GetProperty("wasClean").GetBoolean());
        lock (origins) Assert.Contains($"http://127.0.0.1:{server.BaseUri.Port}", origins);
    }

    [Fact]
    public async Task Browser_negotiates_deflate_and_sees_an_unauthenticated_upgrade_refused()
    {
        await using var server = await TestServer.StartAsync(app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapGet("/", () => Results.Content("<!doctype html><title>probe</title>", "text/html"));
            app.MapWebSocket("/deflate", async c =>
            {
                await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
            }, o => o.Connection.Compression.Enabled = true);
            app.MapWebSocket("/private", _ => Task.CompletedTask).RequireAuthorization();
        }, services: services =>
        {
            services.AddAuthorization();
            services.AddAuthentication("Bearer").AddJwtBearer();
        });

        await using var browser = StartBrowser("probe", server.BaseUri.ToString(),
            server.WebSocketUri("/deflate") + "?echo=1", server.WebSocketUri("/private").ToString());
        var probes = (await browser.ReadJsonAsync(BrowserTimeout)).GetProperty("probes").EnumerateArray().ToArray();

        // Chromium always offers permessage-deflate; the endpoint accepts it and the echo survives it.
        Assert.Equal(["open", "echo-ok", "close"], Events(probes[0]));
        Assert.StartsWith("permessage-deflate", probes[0].GetProperty("extensions").GetString());
        Assert.Equal(1000, probes[0].GetProperty("code").GetInt32());

        // No token: 401 before the upgrade, which a browser's script sees as error, then close 1006.
        Assert.Equal(["error", "close"], Events(probes[1]));
        Assert.Equal(1006, probes[1].GetProperty("code").GetInt32());
    }

    private static string[] Events(JsonElement probe) =>
        probe.GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray();
}
