using System.Collections.Concurrent;
using System.Net;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Redis.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>
/// CleanupEmptyChildNamespaces with the Redis adapter: a removed child's subscriptions leave the real
/// redis-server (PUBSUB CHANNELS and NUMPAT, asked of Redis itself).
/// </summary>
public class NamespaceCleanupTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_removed_child_namespace_releases_its_channels_and_pattern_on_redis()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var serverMux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        await using var probeMux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var probe = probeMux.GetServer(redis.Address);

        var created = new ConcurrentDictionary<string, SocketIONamespace>(StringComparer.Ordinal);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSocketIO(o => o.CleanupEmptyChildNamespaces = true);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.MapSocketIO("/socket.io", io =>
        {
            io.UseRedisAdapter(serverMux);
            io.OnNewNamespace(ns => created[ns.Name] = ns);
            io.Of(name => name.StartsWith("/team-", StringComparison.Ordinal))
              .Use(socket =>
              {
                  if (socket.Namespace.Name == "/team-refused") throw new SocketIOConnectRefusedException("no");
              });
        });
        await app.StartAsync();
        var url = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var io = app.Services.GetRequiredService<SocketIOServer>();
        await io.AdaptersReady.WaitAsync(Wait);

        async Task<string[]> ChannelsAsync(string nsp) =>
            (await probe.SubscriptionChannelsAsync(RedisChannel.Pattern("*"))).Select(c => c.ToString()).Where(c => c.Contains("#" + nsp + "#", StringComparison.Ordinal)).ToArray();
        async Task<string[]> WaitForNoChannelsAsync(string nsp)
        {
            string[] left = [];
            for (int i = 0; i < 200; i++)
            {
                left = await ChannelsAsync(nsp);
                if (left.Length == 0) break;
                await Task.Delay(25);
            }
            return left;
        }
        long mainPatterns = await probe.SubscriptionPatternCountAsync();
        Assert.Equal(1, mainPatterns); // "/" broadcasts: socket.io#/#*
        Assert.NotEmpty(await ChannelsAsync("/"));

        await using (var client = new SocketIOClient(url, new SocketIOClientOptions { Reconnection = false }))
        {
            var team = client.Of("/team-1");
            await team.ConnectAsync(new CancellationTokenSource(Wait).Token);
            await created["/team-1"].Adapter.Ready.WaitAsync(Wait);
            // Request, response and this server's own response channel, and the broadcast pattern.
            Assert.Equal(3, (await ChannelsAsync("/team-1")).Length);
            Assert.Equal(2, await probe.SubscriptionPatternCountAsync());

            await team.DisconnectAsync(new CancellationTokenSource(Wait).Token);
            Assert.Empty(await WaitForNoChannelsAsync("/team-1"));
            Assert.Equal(1, await probe.SubscriptionPatternCountAsync());

            // A child removed as soon as it was made (its creator refused): its adapter was still
            // subscribing when it was released, and what it subscribed goes too.
            var refused = await Assert.ThrowsAsync<SocketIOConnectException>(() => client.Of("/team-refused").ConnectAsync(new CancellationTokenSource(Wait).Token));
            Assert.Equal("no", refused.Message);
            await created["/team-refused"].Adapter.Ready.WaitAsync(Wait);
            Assert.Empty(await WaitForNoChannelsAsync("/team-refused"));
            Assert.Equal(1, await probe.SubscriptionPatternCountAsync());
        }
        // The main namespace kept its own.
        Assert.NotEmpty(await ChannelsAsync("/"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await app.StopAsync(stop.Token);
    }
}
