using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>
/// The C# Socket.IO client through a real HTTP proxy (tests/peers/connect-proxy.js, Node): polling
/// forwarded, the WebSocket upgrade tunnelled with CONNECT; and one cookie jar for both transports.
/// </summary>
public sealed class ProxyAndCookieTests
{
    /// <summary>The proxy as a process: its port, and the JSON lines it prints per request.</summary>
    private sealed class Proxy : IAsyncDisposable
    {
        private readonly Process _process;
        public readonly ConcurrentQueue<JsonElement> Events = new();
        private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Proxy()
        {
            var script = Path.GetFullPath(Path.Combine(NodeClient.PeersDirectory, "..", "peers", "connect-proxy.js"));
            var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(script);
            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) { _port.TrySetException(new InvalidOperationException("the proxy exited")); return; }
                var line = JsonDocument.Parse(e.Data).RootElement.Clone();
                if (line.TryGetProperty("port", out var port)) _port.TrySetResult(port.GetInt32());
                else Events.Enqueue(line);
            };
            _process.BeginOutputReadLine();
        }

        public Task<int> PortAsync => _port.Task.WaitAsync(TimeSpan.FromSeconds(15));

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    [Fact]
    public async Task Polling_goes_through_the_proxy_and_the_upgrade_tunnels_through_it()
    {
        await using var proxy = new Proxy();
        int proxyPort = await proxy.PortAsync;
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(socket =>
            socket.On("transport", e => e.AckAsync(socket.Engine.Transport))));
        var options = Waits.Fast(o => o.Proxy = new WebProxy($"http://127.0.0.1:{proxyPort}"));
        await using var client = new SocketIOClient(server.BaseUri, options);
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        Assert.Equal("websocket", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));

        var events = proxy.Events.ToArray();
        // The handshake and polls: absolute-form requests the proxy forwarded.
        Assert.Contains(events, e => e.GetProperty("event").GetString() == "forward"
            && e.GetProperty("url").GetString()!.StartsWith($"{server.Url}/socket.io/?EIO=4&transport=polling", StringComparison.Ordinal));
        // The WebSocket: a CONNECT tunnel to the server.
        Assert.Contains(events, e => e.GetProperty("event").GetString() == "connect" && e.GetProperty("target").GetString() == server.BaseUri.Authority);
    }

    [Fact]
    public async Task A_cookie_set_on_a_polling_answer_goes_with_the_websocket_upgrade()
    {
        var upgradeCookies = new ConcurrentQueue<string>();
        await using var server = await SocketIOTestServer.StartAsync(io =>
        {
            io.Engine.InitialHeaders += (headers, _) => headers.SetCookie = Microsoft.Extensions.Primitives.StringValues.Concat(headers.SetCookie, "affinity=node-7; Path=/");
            io.Engine.Headers += (_, request) =>
            {
                if (request.Query["transport"] == "websocket") upgradeCookies.Enqueue(request.Headers.Cookie.ToString());
            };
        }, o => o.CookieName = "io");
        var options = Waits.Fast(o => o.UseProxy = false);
        await using var client = new SocketIOClient(server.BaseUri, options);
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));

        var sent = Assert.Single(upgradeCookies).Split("; ").Order().ToArray();
        Assert.Equal(2, sent.Length);
        Assert.Equal("affinity=node-7", sent[0]);
        Assert.Equal($"io={client.EngineId}", sent[1]);
        Assert.Equal("node-7", options.Cookies.GetCookies(server.BaseUri)["affinity"]?.Value);
    }
}
