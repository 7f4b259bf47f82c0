using System.Net;
using System.Threading.Channels;
using Duplex.Server;
using Duplex.Server.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// RedisGroupBackplane in-process: a configuration mistake fails once, at startup; an outage never
/// throws, and the backplane joins up when Redis comes.
/// </summary>
public class RedisBackplaneFailureTests
{
    // Not a keyword StackExchange.Redis knows: its parser refuses it.
    private const string BadConfiguration = "127.0.0.1:1,notAnOption=1";

    [Fact]
    public void A_bad_configuration_string_fails_the_constructor_with_an_ArgumentException_naming_the_option()
    {
        var error = Assert.Throws<ArgumentException>(() => new RedisGroupBackplane(new RedisBackplaneOptions { Configuration = BadConfiguration }));
        Assert.Contains("RedisBackplaneOptions.Configuration", error.Message, StringComparison.Ordinal);
        Assert.Equal("options", error.ParamName);
    }

    [Fact]
    public async Task A_bad_configuration_string_fails_the_application_at_startup_not_at_every_broadcast()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddDuplex();
        builder.Services.AddDuplexRedisBackplane(o => o.Configuration = BadConfiguration);
        await using var app = builder.Build();
        var error = Assert.ThrowsAny<ArgumentException>(() => app.MapWebSocket("/ws", c => Task.CompletedTask));
        Assert.Contains("RedisBackplaneOptions.Configuration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_a_backplane_that_never_connected_or_was_disposed_before_does_not_throw()
    {
        var unused = new RedisGroupBackplane(new RedisBackplaneOptions { Configuration = "127.0.0.1:1" });
        await unused.DisposeAsync();
        await unused.DisposeAsync();
        // After disposal a publish is dropped (and counted), as during an outage.
        await unused.PublishAsync("g", "x"u8.ToArray(), WebSocketMessageType.Text);
    }

    [Fact]
    public async Task Publishes_while_Redis_is_down_do_not_throw_and_broadcasts_cross_once_it_is_up()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        var options = new RedisBackplaneOptions { Configuration = $"127.0.0.1:{redis.Port},connectTimeout=500", ChannelPrefix = $"test-{Guid.NewGuid():N}:" };
        var publisher = new RedisGroupBackplane(options);
        var subscriber = new RedisGroupBackplane(options);
        var received = Channel.CreateUnbounded<(string Group, string Text)>();
        try
        {
            await subscriber.StartAsync((group, payload, type) =>
            {
                received.Writer.TryWrite((group, System.Text.Encoding.UTF8.GetString(payload.Span)));
                return Task.CompletedTask;
            });
            for (int i = 0; i < 3; i++)
                await publisher.PublishAsync("lobby", "while down"u8.ToArray(), WebSocketMessageType.Text).WaitAsync(TimeSpan.FromSeconds(10));

            await redis.RestartAsync();
            (string Group, string Text)? crossed = null;
            var deadline = DateTime.UtcNow.AddSeconds(40);
            while (crossed is null && DateTime.UtcNow < deadline)
            {
                await publisher.PublishAsync("lobby", "after start"u8.ToArray(), WebSocketMessageType.Text).WaitAsync(TimeSpan.FromSeconds(10));
                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                try { crossed = await received.Reader.ReadAsync(wait.Token); } catch (OperationCanceledException) { }
            }
            Assert.NotNull(crossed);
            Assert.Equal(("lobby", "after start"), crossed!.Value);
        }
        finally
        {
            await publisher.DisposeAsync();
            await subscriber.DisposeAsync();
        }
    }
}
