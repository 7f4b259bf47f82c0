using System.Text.Json;
using Duplex.SocketIO.Adapters;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>The adapter abstraction itself, without sockets: what reaches an adapter, and from where.</summary>
public class AdapterTests
{
    private sealed class RecordingAdapter(SocketIONamespace ns) : SocketIOAdapter(ns)
    {
        public readonly List<(BroadcastPacket Packet, BroadcastOptions Options)> Broadcasts = new();
        public readonly List<(BroadcastOptions Options, string[] Rooms)> Joins = new();

        public override ValueTask<int> BroadcastAsync(BroadcastPacket packet, BroadcastOptions options, CancellationToken cancellationToken = default)
        {
            Broadcasts.Add((packet, options));
            return base.BroadcastAsync(packet, options, cancellationToken);
        }

        public override ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
        {
            Joins.Add((options, rooms.ToArray()));
            return base.AddSocketsAsync(options, rooms, cancellationToken);
        }

        public override ValueTask<int> ServerCountAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(3);
    }

    [Fact]
    public void UseAdapter_applies_to_existing_and_new_namespaces_and_in_memory_is_the_default()
    {
        var io = new SocketIOServer();
        var chat = io.Of("/chat");
        Assert.IsType<InMemoryAdapter>(io.Sockets.Adapter);
        io.UseAdapter(ns => new RecordingAdapter(ns));
        Assert.IsType<RecordingAdapter>(io.Sockets.Adapter);
        Assert.IsType<RecordingAdapter>(chat.Adapter);
        Assert.Same(chat, chat.Adapter.Namespace);
        Assert.IsType<RecordingAdapter>(io.Of("/later").Adapter);
    }

    [Fact]
    public async Task Emits_reach_the_adapter_with_rooms_except_flags_and_the_packet_in_both_forms()
    {
        var io = new SocketIOServer();
        io.UseAdapter(ns => new RecordingAdapter(ns));
        var adapter = (RecordingAdapter)io.Of("/chat").Adapter;
        await io.Of("/chat").To("a", "b").Except("c").Volatile.Compress(false).EmitAsync("news", new { n = 1 }, new byte[] { 7, 8 });
        await io.Of("/chat").Local.EmitAsync("local-only");

        var (packet, options) = adapter.Broadcasts[0];
        Assert.Equal(["a", "b"], options.Rooms.Order());
        Assert.Equal(["c"], options.Except);
        Assert.True(options.Volatile);
        Assert.False(options.Compress);
        Assert.False(options.Local);
        Assert.Equal(SocketIOPacketType.BinaryEvent, packet.Packet.Type);
        Assert.Equal("/chat", packet.Packet.Namespace);
        Assert.Equal("news", packet.Packet.Data!.Value[0].GetString());
        Assert.Equal(1, packet.Packet.Data!.Value[1].GetProperty("n").GetInt32());
        Assert.Equal([7, 8], packet.Packet.Attachments.Single());
        Assert.True(adapter.Broadcasts[1].Options.Local);

        // A packet made from its decoded form (as one from another node) encodes as the encoder would.
        var copy = BroadcastPacket.FromPacket(packet.Packet);
        Assert.Equal(packet.Encoded.Select(p => p.ToPollingText()), copy.Encoded.Select(p => p.ToPollingText()));
        var withId = packet.WithId(42);
        Assert.StartsWith("51-/chat,42[", withId.Encoded[0].Text);
    }

    [Fact]
    public async Task Joins_go_through_the_adapter_and_a_server_side_emit_without_other_servers_has_no_answers()
    {
        var io = new SocketIOServer();
        await io.In("x").SocketsJoinAsync("y", "z");
        Assert.Empty(await io.Timeout(TimeSpan.FromSeconds(1)).ServerSideEmitWithAckAsync("hello", 1));
        Assert.Equal(1, await io.ServerCountAsync());

        io.UseAdapter(ns => new RecordingAdapter(ns));
        io.In("x").SocketsJoin("y");
        var adapter = (RecordingAdapter)io.Sockets.Adapter;
        Assert.Equal(["x"], adapter.Joins.Single().Options.Rooms);
        Assert.Equal(["y"], adapter.Joins.Single().Rooms);
        Assert.Equal(3, await io.ServerCountAsync());
    }

    [Fact]
    public void Server_side_emit_handlers_get_the_arguments_and_answer_once()
    {
        var io = new SocketIOServer();
        var answers = new List<object?>();
        string? got = null;
        io.OnServerSideEmit("hello", async e =>
        {
            got = e.Args.Get<string>(0);
            await e.AckAsync("first");
            await e.AckAsync("second");
        });
        var adapter = new ProbeAdapter(io.Sockets);
        using var data = JsonDocument.Parse("""["hello","there"]""");
        adapter.Receive(data.RootElement, v => { answers.Add(v); return ValueTask.CompletedTask; });
        Assert.Equal("there", got);
        Assert.Equal(["first"], answers);
    }

    private sealed class ProbeAdapter(SocketIONamespace ns) : SocketIOAdapter(ns)
    {
        public void Receive(JsonElement data, Func<object?, ValueTask> ack) => DispatchServerSideEmit(data, [], ack);
    }
}
