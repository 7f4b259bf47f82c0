using Duplex.Integration.Tests.Infrastructure;
using Duplex.Server;
using Duplex.Server.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// Groups named per document, made by real clients over the wire on a server with the Redis backplane:
/// once their members leave or disconnect the registry holds none, and Redis holds no subscription
/// per group (the backplane's one pattern subscription covers every group).
/// </summary>
public sealed class GroupCleanupTests
{
    private const int Clients = 20;
    private const int GroupsPerClient = 50;

    /// <summary>"join:name" / "leave:name", each answered "ok" once done.</summary>
    private static async Task DocumentsAsync(WebSocketConnection c, WebSocketConnectionRegistry registry)
    {
        await foreach (var m in c.ReadMessagesAsync())
        {
            var text = m.Text;
            if (text.StartsWith("join:", StringComparison.Ordinal)) registry[text[5..]].Add(c);
            else if (text.StartsWith("leave:", StringComparison.Ordinal)) registry[text[6..]].Remove(c);
            await c.SendTextAsync("ok");
        }
    }

    private static async Task SendAllAsync(WebSocketConnection client, IEnumerable<string> commands)
    {
        int sent = 0;
        foreach (var command in commands)
        {
            await client.SendTextAsync(command);
            sent++;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int answered = 0;
        await foreach (var m in client.ReadMessagesAsync(timeout.Token))
        {
            Assert.Equal("ok", m.Text);
            if (++answered == sent) break;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        for (int i = 0; i < 300; i++)
        {
            if (await condition()) return;
            await Task.Delay(50);
        }
        Assert.Fail($"{what} within 15 s");
    }

    [Fact]
    public async Task A_thousand_document_groups_are_forgotten_once_their_members_leave_or_disconnect_and_redis_holds_no_subscription_per_group()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var server = await TestServer.StartAsync(
            app =>
            {
                var registry = app.Services.GetRequiredService<WebSocketConnectionRegistry>();
                app.MapWebSocket("/docs", c => DocumentsAsync(c, registry));
            },
            services: s => s.AddDuplexRedisBackplane(o => o.Configuration = $"127.0.0.1:{redis.Port}"));
        await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        var redisServer = probe.GetServer(probe.GetEndPoints()[0]);
        async Task<long> PatternSubscriptions() => (long)await redisServer.ExecuteAsync("PUBSUB", "NUMPAT");
        async Task<int> GroupChannels() => ((RedisResult[])(await redisServer.ExecuteAsync("PUBSUB", "CHANNELS", "*group:*"))!).Length;
        await WaitUntilAsync(async () => await PatternSubscriptions() == 1, "the backplane subscribed");

        var clients = new List<WebSocketConnection>();
        for (int i = 0; i < Clients; i++) clients.Add(await WebSocketClient.ConnectAsync(server.WebSocketUri("/docs")));
        string Group(int client, int n) => $"doc-{client}-{n}";
        await Task.WhenAll(clients.Select((c, i) => SendAllAsync(c, Enumerable.Range(0, GroupsPerClient).Select(n => "join:" + Group(i, n)))));

        Assert.Equal(Clients * GroupsPerClient, server.Registry.GroupCount);
        Assert.Equal(1, await PatternSubscriptions());
        Assert.Equal(0, await GroupChannels());

        // Half leave their groups and stay connected; the other half just close.
        var leavers = clients.Take(Clients / 2).ToArray();
        await Task.WhenAll(leavers.Select((c, i) => SendAllAsync(c, Enumerable.Range(0, GroupsPerClient).Select(n => "leave:" + Group(i, n)))));
        Assert.Equal(Clients / 2 * GroupsPerClient, server.Registry.GroupCount);
        // The connections that left every group keep no record of them (before, an empty one per connection).
        Assert.Equal(Clients / 2, server.Registry.ConnectionsInGroups);
        foreach (var c in clients.Skip(Clients / 2)) await c.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));

        await WaitUntilAsync(() => Task.FromResult(server.Registry.GroupCount == 0 && server.Registry.ConnectionsInGroups == 0), "every group was forgotten");
        Assert.Equal(Clients / 2, server.Registry.Count);
        Assert.Equal(1, await PatternSubscriptions());
        Assert.Equal(0, await GroupChannels());
        // A broadcast to a forgotten group reaches nobody and brings nothing back.
        Assert.Equal(0, await server.Registry[Group(0, 0)].BroadcastTextAsync("anyone?"));
        Assert.Equal(0, server.Registry.GroupCount);
        foreach (var c in leavers) await c.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }
}
