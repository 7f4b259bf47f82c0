using System.IO.Pipelines;
using Duplex.Protocol;
using Duplex.Server;

namespace Duplex.Integration.Tests;

/// <summary>Groups exist only while they have members: reads and remote deliveries create none.</summary>
public class GroupLifetimeTests
{
    private sealed record PipePair(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>A connection over in-memory pipes, as the registry sees one (nobody reads what it sends).</summary>
    private static WebSocketConnection NewConnection() =>
        new(new PipePair(new Pipe().Reader, new Pipe().Writer), WebSocketRole.Server,
            new WebSocketConnectionOptions { KeepAliveInterval = TimeSpan.Zero });

    /// <summary>As the upgrade does: registered while open.</summary>
    private static WebSocketConnection Registered(WebSocketConnectionRegistry registry)
    {
        var connection = NewConnection();
        registry.Add(connection);
        return connection;
    }

    private static async Task EndAsync(WebSocketConnectionRegistry registry, WebSocketConnection connection)
    {
        connection.Abort();
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        registry.Remove(connection);
    }

    [Fact]
    public void Ten_thousand_dynamic_groups_joined_and_left_leave_the_registry_holding_none()
    {
        var registry = new WebSocketConnectionRegistry();
        var a = Registered(registry);
        var b = Registered(registry);
        for (int i = 0; i < 10_000; i++)
        {
            var group = registry[$"room-{i}"];
            group.Add(a);
            group.Add(b);
            Assert.Equal(2, registry[$"room-{i}"].Count);
            Assert.True(group.Remove(a));
            Assert.True(group.Remove(b));
            Assert.False(group.Remove(b));
        }
        Assert.Equal(0, registry.GroupCount);
        Assert.Equal(0, registry["room-0"].Count);
        // Still open, in no group: no membership record is kept for them either.
        Assert.Equal(0, registry.ConnectionsInGroups);
        registry["again"].Add(a);
        Assert.Equal(1, registry["again"].Count);
        Assert.Equal(1, registry.ConnectionsInGroups);
    }

    [Fact]
    public async Task Groups_whose_only_member_ended_are_gone_from_the_registry()
    {
        var registry = new WebSocketConnectionRegistry();
        var member = Registered(registry);
        for (int i = 0; i < 10_000; i++) registry[$"session-{i}"].Add(member);
        Assert.Equal(10_000, registry.GroupCount);

        await EndAsync(registry, member);

        Assert.Equal(0, registry.GroupCount);
        Assert.Equal(0, registry.ConnectionsInGroups);
    }

    [Fact]
    public async Task Reading_or_broadcasting_to_a_group_without_members_creates_no_group()
    {
        var registry = new WebSocketConnectionRegistry();
        for (int i = 0; i < 1000; i++)
        {
            var group = registry[$"nobody-{i}"];
            Assert.Equal(0, group.Count);
            Assert.Empty(group.Members);
            Assert.Equal(0, await group.BroadcastTextAsync("hello"));
        }
        Assert.Equal(0, registry.GroupCount);
    }

    private sealed class CapturingBackplane : IGroupBackplane
    {
        public Func<string, ReadOnlyMemory<byte>, WebSocketMessageType, Task>? Deliver;

        public Task PublishAsync(string group, ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task StartAsync(Func<string, ReadOnlyMemory<byte>, WebSocketMessageType, Task> deliver, CancellationToken cancellationToken = default)
        {
            Deliver = deliver;
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Backplane_deliveries_for_groups_with_no_local_members_create_no_group()
    {
        var backplane = new CapturingBackplane();
        var registry = new WebSocketConnectionRegistry(backplane);
        await new BackplaneSubscription(registry).StartAsync(CancellationToken.None);
        var member = Registered(registry);
        registry["here"].Add(member);

        for (int i = 0; i < 1000; i++) await backplane.Deliver!($"elsewhere-{i}", "x"u8.ToArray(), WebSocketMessageType.Text);
        await backplane.Deliver!("here", "x"u8.ToArray(), WebSocketMessageType.Text);

        Assert.Equal(1, registry.GroupCount);
        Assert.Equal(1, registry["here"].Count);
    }

    [Fact]
    public async Task A_closing_connection_leaves_only_its_own_groups_however_many_others_exist()
    {
        var registry = new WebSocketConnectionRegistry();
        var other = Registered(registry);
        for (int i = 0; i < 10_000; i++) registry[$"other-{i}"].Add(other);
        var closing = Registered(registry);
        registry["mine-1"].Add(closing);
        registry["mine-2"].Add(closing);
        registry["other-5"].Add(closing);

        closing.Abort();
        await closing.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        // What the end of a connection touches: its three groups, not the registry's 10,002.
        Assert.Equal(3, registry.Remove(closing));

        Assert.Equal(10_000, registry.GroupCount);
        Assert.Equal(1, registry["other-5"].Count);
        Assert.Same(other, Assert.Single(registry["other-5"].Members));
        Assert.Equal(1, registry.ConnectionsInGroups);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(40)]
    public async Task A_connection_that_left_some_of_its_groups_leaves_exactly_the_rest_when_it_ends(int groups)
    {
        var registry = new WebSocketConnectionRegistry();
        var member = Registered(registry);
        for (int i = 0; i < groups; i++) registry[$"g-{i}"].Add(member);
        registry["g-0"].Add(member); // again: nothing changes
        for (int i = 0; i < groups; i += 2) Assert.True(registry[$"g-{i}"].Remove(member));
        for (int i = 0; i < groups; i += 2) Assert.False(registry[$"g-{i}"].Remove(member));
        Assert.Equal(groups / 2, registry.GroupCount);

        member.Abort();
        await member.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(groups / 2, registry.Remove(member));
        Assert.Equal(0, registry.GroupCount);
    }

    [Fact]
    public async Task A_group_held_across_its_emptiness_still_adds_and_broadcasts_through_the_registry()
    {
        var registry = new WebSocketConnectionRegistry();
        var lobby = registry["lobby"];
        var first = Registered(registry);
        lobby.Add(first);
        lobby.Remove(first);
        Assert.Equal(0, registry.GroupCount);

        var second = Registered(registry);
        lobby.Add(second);
        Assert.Equal(1, registry["lobby"].Count);
        Assert.Same(second, Assert.Single(registry["lobby"].Members));
        Assert.Equal(1, await registry["lobby"].BroadcastLocalAsync("hi"u8.ToArray(), WebSocketMessageType.Text));
    }

    [Fact]
    public async Task A_connection_this_registry_did_not_accept_leaves_its_groups_when_it_ends()
    {
        var registry = new WebSocketConnectionRegistry();
        var stranger = NewConnection();
        registry["x"].Add(stranger);
        registry["y"].Add(stranger);
        Assert.Equal(2, registry.GroupCount);

        stranger.Abort();
        await stranger.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (registry.GroupCount > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);

        Assert.Equal(0, registry.GroupCount);
        Assert.Equal(0, registry.ConnectionsInGroups);
    }

    [Fact]
    public async Task A_connection_that_ended_is_not_added_to_a_group()
    {
        var registry = new WebSocketConnectionRegistry();
        var member = Registered(registry);
        await EndAsync(registry, member);
        registry["late"].Add(member);
        Assert.Equal(0, registry.GroupCount);
        Assert.Equal(0, registry.ConnectionsInGroups);
    }

    [Fact]
    public async Task Concurrent_joins_and_leaves_on_shared_names_end_with_no_group_and_no_lost_member()
    {
        var registry = new WebSocketConnectionRegistry();
        var connections = Enumerable.Range(0, 8).Select(_ => Registered(registry)).ToArray();
        var names = Enumerable.Range(0, 16).Select(i => $"shared-{i}").ToArray();
        // Workers race to empty and refill the same groups: a join must never land in a group that
        // was just retired (it would be lost from the registry while the connection thinks it is in).
        await Task.WhenAll(connections.Select(c => Task.Run(() =>
        {
            for (int round = 0; round < 2000; round++)
            {
                var name = names[(round + (int)c.Id) % names.Length];
                registry[name].Add(c);
                Assert.True(registry[name].Count >= 1);
                Assert.True(registry[name].Remove(c));
            }
            foreach (var name in names) registry[name].Add(c);
        })));
        foreach (var name in names) Assert.Equal(connections.Length, registry[name].Count);
        foreach (var c in connections) await EndAsync(registry, c);
        Assert.Equal(0, registry.GroupCount);
    }
}
