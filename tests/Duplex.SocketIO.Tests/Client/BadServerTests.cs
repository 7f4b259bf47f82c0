using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Duplex.SocketIO.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>Servers that do not speak Socket.IO: the client fails with a clear error, in bounded time, never hangs.</summary>
public sealed class BadServerTests
{
    /// <summary>Kestrel on a free loopback port answering every request with <paramref name="handler"/>.</summary>
    private sealed class FakeServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FakeServer(WebApplication app, Uri uri)
        {
            _app = app;
            Uri = uri;
        }

        public Uri Uri { get; }

        public static async Task<FakeServer> StartAsync(RequestDelegate handler)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            app.UseWebSockets();
            app.Run(handler);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new FakeServer(app, new Uri(address));
        }

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }
    }

    private static SocketIOClientOptions Options(Action<SocketIOClientOptions>? configure = null)
    {
        var options = new SocketIOClientOptions { ConnectTimeout = TimeSpan.FromSeconds(3), Reconnection = false };
        configure?.Invoke(options);
        return options;
    }

    private static async Task<SocketIOConnectException> FailsQuicklyAsync(SocketIOClient client)
    {
        var watch = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAsync<SocketIOConnectException>(() => client.ConnectAsync().WaitAsync(Waits.Long));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"the failure took {watch.Elapsed}");
        Assert.False(client.IsConnected);
        Assert.False(failure.IsRefusal);
        return failure;
    }

    [Fact]
    public async Task A_handshake_answered_with_garbage_fails_with_a_protocol_error()
    {
        await using var server = await FakeServer.StartAsync(context => context.Response.WriteAsync("hello, I am not socket.io"));
        await using var client = new SocketIOClient(server.Uri, Options());
        var failure = await FailsQuicklyAsync(client);
        var protocol = Assert.IsType<SocketIOProtocolException>(failure.InnerException);
        Assert.Contains("not an Engine.IO payload", protocol.Message);
        Assert.Contains("hello, I am not socket.io", protocol.Message);
    }

    [Fact]
    public async Task A_handshake_answered_with_an_http_error_says_so()
    {
        await using var server = await FakeServer.StartAsync(context =>
        {
            context.Response.StatusCode = 404;
            return context.Response.WriteAsync("<html>not found</html>");
        });
        await using var client = new SocketIOClient(server.Uri, Options());
        var failure = await FailsQuicklyAsync(client);
        Assert.Contains("HTTP 404", Assert.IsType<SocketIOProtocolException>(failure.InnerException).Message);
    }

    [Fact]
    public async Task An_open_packet_without_a_session_id_is_refused()
    {
        await using var server = await FakeServer.StartAsync(context => context.Response.WriteAsync("0{\"pingInterval\":25000}"));
        await using var client = new SocketIOClient(server.Uri, Options());
        var failure = await FailsQuicklyAsync(client);
        Assert.Contains("malformed", Assert.IsType<SocketIOProtocolException>(failure.InnerException).Message);
    }

    [Theory]
    [InlineData("1e300")]       // TimeSpan.FromMilliseconds overflowed (OverflowException)
    [InlineData("3000000000")]  // a TimeSpan, but more than the heartbeat's timer takes (ArgumentOutOfRangeException)
    public async Task An_open_packet_with_a_ping_interval_no_timer_takes_is_refused(string interval)
    {
        await using var server = await FakeServer.StartAsync(context =>
            context.Response.WriteAsync($"0{{\"sid\":\"s\",\"upgrades\":[],\"pingInterval\":{interval},\"pingTimeout\":20000}}"));
        await using var client = new SocketIOClient(server.Uri, Options());
        var failure = await FailsQuicklyAsync(client);
        Assert.Contains("pingInterval", Assert.IsType<SocketIOProtocolException>(failure.InnerException).Message);
    }

    [Fact]
    public async Task A_websocket_that_speaks_something_else_fails_with_a_protocol_error()
    {
        await using var server = await FakeServer.StartAsync(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = 400;
                return;
            }
            using var ws = await context.WebSockets.AcceptWebSocketAsync();
            await ws.SendAsync("hello there"u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
            var buffer = new byte[1024];
            try
            {
                while (!(await ws.ReceiveAsync(buffer, context.RequestAborted)).CloseStatus.HasValue) { }
            }
            catch (Exception)
            {
            }
        });
        await using var client = new SocketIOClient(server.Uri, Options(o => o.Transports = ["websocket"]));
        var failure = await FailsQuicklyAsync(client);
        Assert.Contains("not an Engine.IO packet", Assert.IsType<SocketIOProtocolException>(failure.InnerException).Message);
    }

    [Fact]
    public async Task Garbage_after_a_valid_handshake_closes_with_parse_error_and_fails_the_connect()
    {
        await using var server = await FakeServer.StartAsync(context =>
        {
            if (context.Request.Method == "POST") return context.Response.WriteAsync("ok");
            if (!context.Request.Query.ContainsKey("sid"))
                return context.Response.WriteAsync("0{\"sid\":\"fake\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
            return context.Response.WriteAsync("4this is not socket.io");
        });
        await using var client = new SocketIOClient(server.Uri, Options());
        var failure = await FailsQuicklyAsync(client);
        Assert.Contains("parse error", failure.Message);
        Assert.Contains("not a Socket.IO packet", failure.InnerException!.Message);
    }

    [Fact]
    public async Task With_reconnection_on_a_garbling_server_still_fails_the_connect_in_time_and_says_why()
    {
        int handshakes = 0;
        await using var server = await FakeServer.StartAsync(context =>
        {
            if (context.Request.Method == "POST") return context.Response.WriteAsync("ok");
            if (!context.Request.Query.ContainsKey("sid"))
            {
                Interlocked.Increment(ref handshakes);
                return context.Response.WriteAsync("0{\"sid\":\"fake\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000}");
            }
            return context.Response.WriteAsync("4garbage");
        });
        await using var client = new SocketIOClient(server.Uri, Options(o =>
        {
            o.Reconnection = true;
            o.ConnectTimeout = TimeSpan.FromSeconds(4);
            o.ReconnectionDelay = TimeSpan.FromMilliseconds(100);
            o.ReconnectionDelayMax = TimeSpan.FromMilliseconds(200);
        }));
        var failure = await FailsQuicklyAsync(client);
        Assert.IsType<TimeoutException>(failure.InnerException);
        Assert.Contains("parse error", failure.Message);
        Assert.True(Volatile.Read(ref handshakes) >= 2, "the client should have retried");
        // Having given up, the client stops retrying.
        int settled = Volatile.Read(ref handshakes);
        await Task.Delay(1000);
        Assert.InRange(Volatile.Read(ref handshakes), settled, settled + 1);
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true) accepted.Add(await listener.AcceptSocketAsync());
            }
            catch (Exception)
            {
            }
        });
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            await using var client = new SocketIOClient(new Uri($"http://127.0.0.1:{port}"), Options(o => o.ConnectTimeout = TimeSpan.FromSeconds(1)));
            var failure = await FailsQuicklyAsync(client);
            Assert.IsType<TimeoutException>(failure.InnerException);
            Assert.Contains("took longer than 1 s", failure.Message);
        }
        finally
        {
            listener.Stop();
            await accepting;
            foreach (var socket in accepted) socket.Dispose();
        }
    }

    [Fact]
    public async Task A_server_that_answers_with_non_http_bytes_fails_as_a_transport_error()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serving = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var socket = await listener.AcceptSocketAsync();
                    await socket.SendAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.2\r\n\r\ngarbage"));
                    socket.Shutdown(SocketShutdown.Both);
                }
            }
            catch (Exception)
            {
            }
        });
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            await using var client = new SocketIOClient(new Uri($"http://127.0.0.1:{port}"), Options());
            var failure = await FailsQuicklyAsync(client);
            Assert.IsType<HttpRequestException>(failure.InnerException);
        }
        finally
        {
            listener.Stop();
            await serving;
        }
    }
    [Fact]
    public async Task A_transport_that_takes_nothing_fills_the_outgoing_queue_and_emits_then_throw()
    {
        // Polling only: the handshake and the CONNECT answer come, then every POST after the first hangs,
        // so the client's writer is stuck and what is emitted stays queued.
        int gets = 0, posts = 0;
        await using var server = await FakeServer.StartAsync(async context =>
        {
            if (HttpMethods.IsPost(context.Request.Method))
            {
                if (Interlocked.Increment(ref posts) > 1) await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
                else await context.Response.WriteAsync("ok");
                return;
            }
            switch (Interlocked.Increment(ref gets))
            {
                case 1:
                    await context.Response.WriteAsync("0{\"sid\":\"stuck\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
                    break;
                case 2:
                    await context.Response.WriteAsync("40{\"sid\":\"socket\"}");
                    break;
                default:
                    await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
                    break;
            }
        });
        await using var client = new SocketIOClient(server.Uri, Options(o =>
        {
            o.Transports = ["polling"];
            o.MaxQueuedPackets = 50;
        }));
        await client.ConnectAsync().WaitAsync(Waits.Long);
        // One emit starts the POST that hangs; only once it has (the writer stuck holding what it took) is
        // the queue filled, so nothing the writer takes later frees a slot.
        await client.EmitAsync("e", -1);
        int accepted = 1;
        for (int wait = 0; Volatile.Read(ref posts) < 2; wait++)
        {
            Assert.True(wait < 2000, "the second POST never came");
            await Task.Delay(10);
        }
        InvalidOperationException? full = null;
        for (int i = 0; i < 200 && full is null; i++)
        {
            try
            {
                await client.EmitAsync("e", i);
                accepted++;
            }
            catch (InvalidOperationException ex)
            {
                full = ex;
            }
        }
        Assert.NotNull(full);
        Assert.Contains("outgoing queue is full", full.Message);
        // The limit waits, beyond what the stuck POST took (one payload's worth, before the queue counts them out).
        Assert.InRange(accepted, 50, 199);
        await client.Volatile.EmitAsync("dropped", 1); // a volatile emit is dropped, not refused
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.EmitWithAckAsync("ask", 1).WaitAsync(Waits.Long));
    }
}
