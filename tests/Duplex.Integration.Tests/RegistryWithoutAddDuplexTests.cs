using System.Net;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests;

/// <summary>
/// MapWebSocket without AddDuplex: what needs a registry still works (one per application), and a
/// backplane, which needs AddDuplex's delivery service, fails at startup instead of doing nothing.
/// </summary>
public class RegistryWithoutAddDuplexTests
{
    private sealed class NullBackplane : IGroupBackplane
    {
        public Task PublishAsync(string group, ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task StartAsync(Func<string, ReadOnlyMemory<byte>, WebSocketMessageType, Task> deliver, CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    private static WebApplication Build(Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        return builder.Build();
    }

    private static Uri Address(WebApplication app, string path)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(new Uri(address.Replace("http", "ws", StringComparison.Ordinal)), path);
    }

    [Fact]
    public async Task MaxConnections_caps_the_whole_server_without_AddDuplex()
    {
        await using var app = Build();
        Task Hold(WebSocketConnection c) => c.Completion;
        app.MapWebSocket("/a", Hold, o => o.Limits.MaxConnections = 1);
        app.MapWebSocket("/b", Hold, o => o.Limits.MaxConnections = 1);
        await app.StartAsync();
        try
        {
            await using var first = await WebSocketClient.ConnectAsync(Address(app, "/a"));
            var sameEndpoint = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(Address(app, "/a")));
            Assert.Equal(503, sameEndpoint.StatusCode);
            // The cap is the server's, as documented, not one endpoint's.
            var otherEndpoint = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(Address(app, "/b")));
            Assert.Equal(503, otherEndpoint.StatusCode);

            await first.CloseAsync();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            WebSocketConnection? again = null;
            while (again is null && DateTime.UtcNow < deadline)
            {
                try { again = await WebSocketClient.ConnectAsync(Address(app, "/b")); }
                catch (WebSocketHandshakeException e) when (e.StatusCode == 503) { await Task.Delay(20); }
            }
            Assert.NotNull(again);
            await again!.CloseAsync();
        }
        finally
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await app.StopAsync(timeout.Token);
        }
    }

    [Fact]
    public async Task A_backplane_without_AddDuplex_fails_MapWebSocket_with_a_message_naming_AddDuplex()
    {
        await using var app = Build(s => s.AddSingleton<IGroupBackplane>(new NullBackplane()));
        var error = Assert.Throws<InvalidOperationException>(() => app.MapWebSocket("/ws", c => Task.CompletedTask));
        Assert.Contains("builder.Services.AddDuplex()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_AddDuplex_the_endpoint_counts_its_connections_in_the_registered_registry()
    {
        await using var app = Build(s => s.AddDuplex());
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.MapWebSocket("/ws", c => { opened.TrySetResult(); return c.Completion; });
        await app.StartAsync();
        try
        {
            await using var client = await WebSocketClient.ConnectAsync(Address(app, "/ws"));
            await opened.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(1, app.Services.GetRequiredService<WebSocketConnectionRegistry>().Count);
        }
        finally
        {
            await app.Services.GetRequiredService<WebSocketConnectionRegistry>().CloseAllAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await app.StopAsync(timeout.Token);
        }
    }
}
