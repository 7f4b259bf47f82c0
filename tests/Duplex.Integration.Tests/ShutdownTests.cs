using System.Diagnostics;
using System.Net;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests;

/// <summary>An application's host stopping closes its WebSockets properly instead of waiting them out.</summary>
public class ShutdownTests
{
    /// <summary>An app with AddDuplex and an echo endpoint whose handlers sit in ReadMessagesAsync; a long shutdown timeout.</summary>
    private static async Task<(WebApplication App, Uri Echo)> StartAppAsync(Action<IServiceCollection>? services = null, bool fastPath = false,
        TimeSpan? shutdownTimeout = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDuplex();
        services?.Invoke(builder.Services);
        // Longer than the test waits for the stop: a stop that waits for the handlers fails the test.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromMinutes(2));
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (fastPath) listen.UseDuplexFastPath();
        }));
        var app = builder.Build();
        app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.Replace("http://", "ws://") + "/echo"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stopping_the_host_closes_open_connections_with_1001_instead_of_waiting_out_the_shutdown_timeout(bool fastPath)
    {
        var (app, echo) = await StartAppAsync(fastPath: fastPath);
        var clients = new List<WebSocketConnection>();
        for (int i = 0; i < 3; i++)
        {
            var client = await WebSocketClient.ConnectAsync(echo);
            await client.SendTextAsync("hi");
            await foreach (var m in client.ReadMessagesAsync()) { Assert.Equal("hi", m.Text); break; }
            clients.Add(client);
        }

        // Bounded far below the two-minute shutdown timeout: today's stop waits that out, then aborts (1006).
        await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(clients.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(10));

        foreach (var client in clients)
        {
            Assert.Equal(CloseStatus.GoingAway, client.CloseStatus);
            Assert.Equal("server shutting down", client.CloseStatusDescription);
        }
        await app.DisposeAsync();
    }

    [Fact]
    public async Task With_CloseConnections_off_the_connections_are_left_to_Kestrel_which_drops_them_at_the_shutdown_timeout_as_1006()
    {
        // What every app got before the built-in shutdown.
        var (app, echo) = await StartAppAsync(services => services.AddDuplex(o => o.CloseConnections = false), shutdownTimeout: TimeSpan.FromSeconds(1));
        var client = await WebSocketClient.ConnectAsync(echo);

        await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(CloseStatus.AbnormalClosure, client.CloseStatus);
        await app.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stop_with_a_drain_window_closes_with_1012_and_refuses_upgrades_meanwhile_with_503_and_retry_after(bool fastPath)
    {
        var (app, echo) = await StartAppAsync(services => services.AddDuplex(o => o.DrainWindow = TimeSpan.FromSeconds(3)), fastPath);
        var clients = new List<WebSocketConnection>();
        for (int i = 0; i < 5; i++) clients.Add(await WebSocketClient.ConnectAsync(echo));
        var registry = app.Services.GetRequiredService<WebSocketConnectionRegistry>();

        var stopping = app.StopAsync();
        await WaitUntilAsync(() => registry.IsDraining);
        var refused = await Assert.ThrowsAsync<Protocol.WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(echo));
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(clients.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(registry.IsDraining);
        Assert.Equal(503, refused.StatusCode);
        Assert.True(int.Parse(refused.Headers["Retry-After"]) >= 1);
        foreach (var client in clients)
        {
            Assert.Equal(CloseStatus.ServiceRestart, client.CloseStatus);
            Assert.Equal("service restart", client.CloseStatusDescription);
        }
        await app.DisposeAsync();
    }

    [Fact]
    public async Task A_drain_closes_every_reconnecting_client_with_1012_spread_over_the_window_and_they_all_come_back()
    {
        const int clients = 12;
        await using var server = await Infrastructure.TestServer.StartEchoAsync();
        var options = new ReconnectOptions { RestartJitter = TimeSpan.FromMilliseconds(300), InitialDelay = TimeSpan.FromMilliseconds(100) };
        var reconnecting = new List<ReconnectingWebSocket>();
        try
        {
            for (int i = 0; i < clients; i++)
            {
                var client = new ReconnectingWebSocket(server.WebSocketUri("/echo"), options);
                await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(10));
                reconnecting.Add(client);
            }
            await WaitUntilAsync(() => server.Registry.Count == clients);
            var first = reconnecting.Select(c => c.Current!).ToArray();
            var closedAt = new long[clients];
            var watched = first.Select((c, i) => c.Completion.ContinueWith(_ => closedAt[i] = Stopwatch.GetTimestamp(), TaskScheduler.Default)).ToArray();

            long start = Stopwatch.GetTimestamp();
            var drain = server.Registry.DrainAsync(TimeSpan.FromSeconds(1.5));
            var refused = await Assert.ThrowsAsync<Protocol.WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/echo")));
            Assert.Equal(clients, await drain.WaitAsync(TimeSpan.FromSeconds(30)));
            await Task.WhenAll(watched).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(503, refused.StatusCode);
            Assert.True(int.Parse(refused.Headers["Retry-After"]) >= 1);
            Assert.All(first, c => Assert.Equal(CloseStatus.ServiceRestart, c.CloseStatus));
            // Spread: random moments over 1.5 s fall in many 50 ms buckets, not one (12 in 30 buckets: about 10 expected).
            int buckets = closedAt.Select(t => (long)(Stopwatch.GetElapsedTime(start, t).TotalMilliseconds / 50)).Distinct().Count();
            Assert.True(buckets >= 4, $"the {clients} closes fell in only {buckets} 50 ms bucket(s)");

            // The drain is over: upgrades are accepted again, and every client is back on a new connection.
            Assert.False(server.Registry.IsDraining);
            await WaitUntilAsync(() => reconnecting.All(c => c.State == ReconnectState.Connected && c.Current is { } now && !first.Contains(now)) && server.Registry.Count == clients);
            foreach (var client in reconnecting)
            {
                await client.SendTextAsync("back");
                await foreach (var m in client.ReadMessagesAsync()) { Assert.Equal("back", m.Text); break; }
            }
        }
        finally
        {
            foreach (var client in reconnecting) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Drain_arguments_outside_their_range_are_refused()
    {
        var registry = new WebSocketConnectionRegistry();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => registry.DrainAsync(TimeSpan.FromSeconds(-1)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => registry.DrainAsync(Timeout.InfiniteTimeSpan));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => registry.DrainAsync(TimeSpan.Zero, CloseStatus.AbnormalClosure));
        await Assert.ThrowsAsync<ArgumentException>(() => registry.DrainAsync(TimeSpan.Zero, CloseStatus.ServiceRestart, new string('x', 124)));
        Assert.Equal(0, await registry.DrainAsync(TimeSpan.Zero));
        Assert.False(registry.IsDraining);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DuplexShutdownOptions { DrainWindow = TimeSpan.FromMilliseconds(-2) });
        Assert.Throws<ArgumentOutOfRangeException>(() => new DuplexShutdownOptions { DrainWindow = Timeout.InfiniteTimeSpan });
    }

    [Fact]
    public async Task The_standalone_server_drains_with_1012_when_given_a_window()
    {
        var server = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = 0, Shutdown = { DrainWindow = TimeSpan.FromMilliseconds(500) } });
        server.OnConnection(async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        });
        await server.StartAsync();
        var clients = new List<WebSocketConnection>();
        for (int i = 0; i < 3; i++) clients.Add(await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/")));

        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(clients.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(clients, c => Assert.Equal(CloseStatus.ServiceRestart, c.CloseStatus));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition(), "the condition was not met within 30 s");
    }

    [Theory]
    [InlineData(null, CloseStatus.GoingAway, "server shutting down")]
    [InlineData("1", CloseStatus.ServiceRestart, "service restart")]
    public async Task Duplex_serve_on_SIGTERM_closes_its_connections_with_1001_or_with_drain_1012_and_exits(string? drain, CloseStatus expected, string reason)
    {
        await using var serve = await Interop.DuplexServe.StartAsync(drain is null ? [] : ["--drain", drain]);
        var echo = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{serve.Port}/echo"));
        var broadcast = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{serve.Port}/broadcast"));

        // SIGTERM to the process this test started, by its id (as a service manager stops it).
        using (var kill = Process.Start("kill", ["-TERM", serve.Process.Id.ToString()]))
        {
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, kill.ExitCode);
        }
        await Task.WhenAll(echo.Completion, broadcast.Completion).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(expected, echo.CloseStatus);
        Assert.Equal(reason, echo.CloseStatusDescription);
        Assert.Equal(expected, broadcast.CloseStatus);
        Assert.Equal(0, await serve.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }
}
