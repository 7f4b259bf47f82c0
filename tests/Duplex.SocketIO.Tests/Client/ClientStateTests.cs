using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>The client's stateful parts on their own, without sockets.</summary>
public sealed class ClientStateTests
{
    // ───────────────────────────── backoff ─────────────────────────────

    [Fact]
    public void Backoff_doubles_from_the_npm_defaults_and_caps_at_the_maximum_without_jitter()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromMilliseconds(1000), TimeSpan.FromMilliseconds(5000), 0);
        var delays = Enumerable.Range(0, 5).Select(_ => backoff.Next().TotalMilliseconds).ToArray();
        Assert.Equal([1000, 2000, 4000, 5000, 5000], delays);
        Assert.Equal(5, backoff.Attempts);
        backoff.Reset();
        Assert.Equal(0, backoff.Attempts);
        Assert.Equal(1000, backoff.Next().TotalMilliseconds);
    }

    [Fact]
    public void Backoff_jitter_moves_each_delay_down_or_up_by_the_randomization_factor()
    {
        // r = 0.25: floor(2.5) = 2 is even, so the delay goes down by floor(0.25 × 0.5 × ms).
        var down = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), 0.5, () => 0.25);
        Assert.Equal(875, down.Next().TotalMilliseconds);
        Assert.Equal(1750, down.Next().TotalMilliseconds);
        // r = 0.99: floor(9.9) = 9 is odd, so it goes up by floor(0.99 × 0.5 × ms), still capped.
        var up = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), 0.5, () => 0.99);
        Assert.Equal(1495, up.Next().TotalMilliseconds);
        Assert.Equal(2990, up.Next().TotalMilliseconds);
        Assert.Equal(5000, up.Next().TotalMilliseconds);
    }

    [Fact]
    public void Backoff_with_real_randomness_stays_within_its_bounds_and_varies()
    {
        var seen = new HashSet<double>();
        for (int run = 0; run < 200; run++)
        {
            var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), 0.5);
            for (int attempt = 0; attempt < 6; attempt++)
            {
                double baseMs = Math.Min(1000 * Math.Pow(2, attempt), 1000 * Math.Pow(2, 30));
                double ms = backoff.Next().TotalMilliseconds;
                Assert.InRange(ms, Math.Min(Math.Floor(baseMs * 0.5), 5000), Math.Min(baseMs * 1.5, 5000));
                if (attempt == 0) seen.Add(ms);
            }
        }
        Assert.True(seen.Count > 20, $"the first delay should vary with the jitter; saw {seen.Count} values");
    }

    [Fact]
    public void Backoff_after_very_many_attempts_is_still_the_maximum()
    {
        var backoff = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), 0.5, () => 0.0);
        for (int i = 0; i < 2000; i++) backoff.Next();
        Assert.Equal(5000, backoff.Next().TotalMilliseconds);
    }

    // ───────────────────────────── acks ─────────────────────────────

    private static SocketIOArgs Args(string json) =>
        SocketIOArgs.From(JsonDocument.Parse(json).RootElement.Clone(), 0, [], new JsonSerializerOptions(JsonSerializerDefaults.Web));

    [Fact]
    public async Task Ack_registry_numbers_from_zero_and_delivers_each_answer_once()
    {
        var acks = new AckRegistry();
        var (first, firstAnswer) = acks.Register();
        var (second, secondAnswer) = acks.Register();
        Assert.Equal(0, first);
        Assert.Equal(1, second);
        Assert.True(acks.Complete(second, Args("[42]")));
        Assert.False(acks.Complete(second, Args("[43]"))); // twice
        Assert.False(acks.Complete(99, Args("[1]"))); // unknown
        Assert.Equal(42, (await secondAnswer).Get<int>(0));
        Assert.False(firstAnswer.IsCompleted);
        Assert.Equal(1, acks.Count);
    }

    [Fact]
    public async Task Ack_registry_fails_sent_acks_on_disconnect_and_keeps_buffered_ones()
    {
        var acks = new AckRegistry();
        var (sent, sentAnswer) = acks.Register();
        var (buffered, bufferedAnswer) = acks.Register();
        acks.MarkSent(sent);
        Assert.Equal(1, acks.FailSent(new SocketIODisconnectedException("transport close")));
        var failure = await Assert.ThrowsAsync<SocketIODisconnectedException>(() => sentAnswer);
        Assert.Equal("transport close", failure.Reason);
        Assert.False(bufferedAnswer.IsCompleted);
        Assert.True(acks.Complete(buffered, Args("[\"late but fine\"]")));
        Assert.Equal("late but fine", (await bufferedAnswer).Get<string>(0));
    }

    [Fact]
    public async Task Ack_registry_fail_all_and_forget()
    {
        var acks = new AckRegistry();
        var (_, a) = acks.Register();
        var (forgotten, b) = acks.Register();
        Assert.True(acks.Forget(forgotten));
        Assert.False(acks.Complete(forgotten, Args("[]")));
        Assert.Equal(1, acks.FailAll(new SocketIODisconnectedException("io client disconnect")));
        await Assert.ThrowsAsync<SocketIODisconnectedException>(() => a);
        Assert.False(b.IsCompleted);
        Assert.Equal(0, acks.Count);
    }

    // ───────────────────────────── send buffer ─────────────────────────────

    [Fact]
    public void Send_buffer_keeps_order_is_bounded_and_drops_a_timed_out_ack()
    {
        var buffer = new SendBuffer(3);
        Assert.True(buffer.TryAdd([EnginePacket.Message("2[\"a\"]")], null));
        Assert.True(buffer.TryAdd([EnginePacket.Message("20[\"b\"]")], 0));
        Assert.True(buffer.TryAdd([EnginePacket.Message("2[\"c\"]")], null));
        Assert.False(buffer.TryAdd([EnginePacket.Message("2[\"d\"]")], null));
        Assert.True(buffer.RemoveAck(0));
        Assert.False(buffer.RemoveAck(0));
        var drained = buffer.Drain();
        Assert.Equal(new[] { "2[\"a\"]", "2[\"c\"]" }, drained.Select(d => d.Packets[0].Text!).ToArray());
        Assert.Equal(0, buffer.Count);
    }

    // ───────────────────────────── packet assembly ─────────────────────────────

    [Fact]
    public void Assembler_gathers_the_attachments_a_binary_event_announced()
    {
        var assembler = new PacketAssembler();
        Assert.True(assembler.TryAdd(EnginePacket.Message("52-/admin,7[\"file\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"), out var packet, out _));
        Assert.Null(packet);
        Assert.True(assembler.TryAdd(EnginePacket.Message([1, 2]), out packet, out _));
        Assert.Null(packet);
        Assert.True(assembler.TryAdd(EnginePacket.Message([3]), out packet, out _));
        Assert.NotNull(packet);
        Assert.Equal(SocketIOPacketType.BinaryEvent, packet!.Type);
        Assert.Equal("/admin", packet.Namespace);
        Assert.Equal(7, packet.Id);
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        json.Converters.Add(new BinaryPlaceholderConverter());
        var args = SocketIOArgs.From(packet.Data, 1, packet.Attachments, json);
        Assert.Equal([1, 2], args.GetBytes(0));
        Assert.Equal([3], args.GetBytes(1));
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("2not json")]
    [InlineData("9[]")]
    [InlineData("2{\"an\":\"object\"}")]
    public void Assembler_rejects_text_that_is_not_socket_io(string text)
    {
        var assembler = new PacketAssembler();
        Assert.False(assembler.TryAdd(EnginePacket.Message(text), out _, out var error));
        Assert.Contains("not a Socket.IO packet", error);
    }

    [Fact]
    public void Assembler_rejects_binary_nobody_announced_and_text_while_attachments_are_due()
    {
        Assert.False(new PacketAssembler().TryAdd(EnginePacket.Message([1]), out _, out var error));
        Assert.Contains("no packet announced", error);
        var assembler = new PacketAssembler();
        Assert.True(assembler.TryAdd(EnginePacket.Message("51-[\"x\",{\"_placeholder\":true,\"num\":0}]"), out _, out _));
        Assert.False(assembler.TryAdd(EnginePacket.Message("2[\"y\"]"), out _, out error));
        Assert.Contains("attachments were still due", error);
    }

    // ───────────────────────────── emits while disconnected ─────────────────────────────

    private static SocketIOClient Offline(int maxBuffered = 1000) =>
        new(new Uri("http://127.0.0.1:9"), new SocketIOClientOptions { MaxBufferedEmits = maxBuffered });

    [Fact]
    public async Task Emits_while_disconnected_are_buffered_up_to_the_bound_and_volatile_ones_dropped()
    {
        await using var client = Offline(maxBuffered: 2);
        await client.EmitAsync("one", 1);
        await client.Volatile.EmitAsync("dropped", 2);
        await client.EmitAsync("two", new byte[] { 1, 2, 3 });
        Assert.Equal(2, client.Socket.BufferedCount);
        var full = await Assert.ThrowsAsync<InvalidOperationException>(async () => await client.EmitAsync("three"));
        Assert.Contains("full", full.Message);
        Assert.Equal(2, client.Socket.BufferedCount);
    }

    [Fact]
    public async Task A_buffered_emit_whose_ack_times_out_leaves_the_buffer()
    {
        await using var client = Offline();
        var ack = client.Timeout(TimeSpan.FromMilliseconds(50)).EmitWithAckAsync("question", "?");
        Assert.Equal(1, client.Socket.BufferedCount);
        await Assert.ThrowsAsync<TimeoutException>(() => ack);
        Assert.Equal(0, client.Socket.BufferedCount);
    }

    [Fact]
    public async Task A_cancelled_ack_wait_leaves_the_buffer_too()
    {
        await using var client = Offline();
        using var cts = new CancellationTokenSource();
        var ack = client.EmitWithAckAsync<int>("question", ["?"], cts.Token);
        Assert.Equal(1, client.Socket.BufferedCount);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ack);
        Assert.Equal(0, client.Socket.BufferedCount);
    }

    [Fact]
    public async Task Reserved_names_and_tokens_as_arguments_are_refused()
    {
        await using var client = Offline();
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.EmitAsync("connect"));
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.EmitAsync("disconnect"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.EmitWithAckAsync("x", 1, CancellationToken.None));
        Assert.Equal(0, client.Socket.BufferedCount);
    }

    [Fact]
    public async Task Disconnect_drops_the_buffer_and_fails_waiting_acks()
    {
        await using var client = Offline();
        var ack = client.EmitWithAckAsync("question");
        await client.DisconnectAsync();
        var failure = await Assert.ThrowsAsync<SocketIODisconnectedException>(() => ack);
        Assert.Equal("io client disconnect", failure.Reason);
        Assert.Equal(0, client.Socket.BufferedCount);
    }

    [Fact]
    public async Task Namespaces_are_one_object_per_name()
    {
        await using var client = Offline();
        Assert.Same(client.Of("/admin"), client.Of("admin"));
        Assert.Same(client.Socket, client.Of("/"));
        Assert.Equal("/admin", client.Of("admin").Namespace);
        Assert.False(client.IsConnected);
        Assert.Null(client.Id);
        Assert.Null(client.Transport);
    }

    [Fact]
    public async Task Binary_arguments_are_encoded_as_attachments_with_placeholders()
    {
        await using var client = Offline();
        var packets = SocketIOEncoder.Event("/", "upload", [new byte[] { 9 }, (ReadOnlyMemory<byte>)new byte[] { 8, 7 }, new { nested = new byte[] { 6 } }], 3, client.JsonOptions);
        Assert.Equal(4, packets.Length);
        Assert.Equal(
            "53-3[\"upload\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1},{\"nested\":{\"_placeholder\":true,\"num\":2}}]",
            packets[0].Text);
        Assert.Equal([9], packets[1].Binary);
        Assert.Equal([8, 7], packets[2].Binary);
        Assert.Equal([6], packets[3].Binary);
    }
}
