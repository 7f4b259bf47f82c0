using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Connection;

public class WebSocketConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static WebSocketConnectionOptions Options(long maxMessageSize = 1 << 20, int maxFragments = 64, double closeTimeoutSeconds = 5) => new()
    {
        MaxMessageSize = maxMessageSize,
        MaxFragments = maxFragments,
        CloseTimeout = TimeSpan.FromSeconds(closeTimeoutSeconds),
    };

    /// <summary>Echoes every message back until the connection ends.</summary>
    private static Task EchoAsync(WebSocketConnection connection) => Task.Run(async () =>
    {
        await foreach (var message in connection.ReadMessagesAsync())
            await connection.SendAsync(message);
    });

    [Fact]
    public async Task Echoes_text_binary_and_empty_messages()
    {
        await using var h = new PipeHarness();
        var echo = EchoAsync(h.Connection);
        var binary = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        await h.SendAsync(Frames.Concat(
            Frames.Client(Opcode.Text, "héllo"),
            Frames.Client(Opcode.Binary, binary),
            Frames.Client(Opcode.Text, ""),
            Frames.Client(Opcode.Binary, [])));

        var frames = new List<WireFrame>();
        for (int i = 0; i < 4; i++) frames.Add((await h.ReadFrameAsync())!);
        Assert.All(frames, f => Assert.True(f.Fin && !f.Masked && f.Rsv == 0));
        Assert.Equal([Opcode.Text, Opcode.Binary, Opcode.Text, Opcode.Binary], frames.Select(f => f.Opcode));
        Assert.Equal("héllo", frames[0].Text);
        Assert.Equal(binary, frames[1].Payload);
        Assert.Empty(frames[2].Payload);
        Assert.Empty(frames[3].Payload);

        await h.SendAsync(Frames.ClientClose(1000));
        Assert.Equal(1000, (await h.ReadFrameAsync())!.CloseCode);
        await echo.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Delivers_message_types_and_contents_through_read_messages()
    {
        await using var h = new PipeHarness();
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Text, "a"), Frames.Client(Opcode.Binary, [9, 8]), Frames.ClientClose(1000)));
        var messages = await collected.WaitAsync(Timeout);
        Assert.Equal(2, messages.Count);
        Assert.Equal(WebSocketMessageType.Text, messages[0].Type);
        Assert.Equal("a"u8.ToArray(), messages[0].Data);
        Assert.Equal(WebSocketMessageType.Binary, messages[1].Type);
        Assert.Equal([9, 8], messages[1].Data);
    }

    [Fact]
    public async Task Reassembles_fragmented_message_and_answers_interleaved_ping_before_it_completes()
    {
        await using var h = new PipeHarness();
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Text, "Hello, ", fin: false), Frames.Client(Opcode.Ping, "are you there?")));

        // The pong comes out while the message is still incomplete.
        var pong = await h.ReadFrameAsync();
        Assert.Equal(Opcode.Pong, pong!.Opcode);
        Assert.Equal("are you there?", pong.Text);
        Assert.False(pong.Masked);

        await h.SendAsync(Frames.Concat(
            Frames.Client(Opcode.Continuation, "wör", fin: false),
            Frames.Client(Opcode.Continuation, "ld"),
            Frames.ClientClose(1000)));
        var messages = await collected.WaitAsync(Timeout);
        Assert.Equal("Hello, wörld", Encoding.UTF8.GetString(Assert.Single(messages).Data));
        Assert.Equal(1000, (await h.ReadFrameAsync())!.CloseCode);
    }

    [Fact]
    public async Task Reassembles_a_large_message_fed_in_small_chunks()
    {
        await using var h = new PipeHarness(options: Options(maxMessageSize: 1 << 20));
        var collected = h.CollectMessagesAsync();
        var payload = new byte[300_000];
        new Random(3).NextBytes(payload);
        var wire = Frames.Concat(
            Frames.Client(Opcode.Binary, payload.AsSpan(0, 100_000), fin: false),
            Frames.Client(Opcode.Continuation, payload.AsSpan(100_000), fin: true),
            Frames.ClientClose(1000));
        for (int pos = 0; pos < wire.Length; pos += 997)
            await h.SendAsync(wire.AsMemory(pos, Math.Min(997, wire.Length - pos)));
        var messages = await collected.WaitAsync(Timeout);
        Assert.Equal(payload, Assert.Single(messages).Data);
    }

    [Fact]
    public async Task Replies_to_a_message_that_arrived_with_the_close_before_answering_the_close()
    {
        await using var h = new PipeHarness();
        var echo = EchoAsync(h.Connection);
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Text, "last words"), Frames.ClientClose(1000)));
        var frames = await h.ReadAllFramesAsync();
        Assert.Equal([Opcode.Text, Opcode.Close], frames.Select(f => f.Opcode));
        Assert.Equal("last words", frames[0].Text);
        await echo.WaitAsync(Timeout);
    }

    // The close rules themselves (codes, reasons, the echo) are pinned in WebSocketProtocolTests;
    // here the driver sends the reply, records the peer's status and ends the connection.
    [Fact]
    public async Task Echoes_the_peers_close_code_and_records_it()
    {
        const int code = 4000;
        const string reason = "app-defined ✓";
        await using var h = new PipeHarness();
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.ClientClose(code, reason));
        var frames = await h.ReadAllFramesAsync();
        var close = Assert.Single(frames);
        Assert.Equal(Opcode.Close, close.Opcode);
        Assert.Equal(code, close.CloseCode);
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal((CloseStatus)code, h.Connection.CloseStatus);
        Assert.Equal(reason, h.Connection.CloseStatusDescription);
        Assert.Equal(WebSocketState.Closed, h.Connection.State);
        Assert.Empty(await collected.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Answers_an_empty_close_with_an_empty_close_and_records_1005()
    {
        await using var h = new PipeHarness();
        await h.SendAsync(Frames.Client(Opcode.Close, []));
        var close = Assert.Single(await h.ReadAllFramesAsync());
        Assert.Equal(Opcode.Close, close.Opcode);
        Assert.Empty(close.Payload);
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.NoStatusReceived, h.Connection.CloseStatus);
    }

    // Which input fails with which code is pinned in WebSocketProtocolTests.Failing; here one case of
    // each code family shows the driver writes the close, waits for the peer's answer and ends.
    public static TheoryData<string, byte[], int> ProtocolErrors() => new()
    {
        { "continuation without message", Frames.Client(Opcode.Continuation, "x"u8), 1002 },
        { "invalid utf-8", Frames.Client(Opcode.Text, [0x68, 0x69, 0xED, 0xA0, 0x80]), 1007 },
        { "message over max size", Frames.Client(Opcode.Binary, new byte[1025]), 1009 },
    };

    [Theory]
    [MemberData(nameof(ProtocolErrors))]
    public async Task Fails_the_connection_with_the_right_close_code_on_the_wire(string why, byte[] wire, int code)
    {
        await using var h = new PipeHarness(options: Options(maxMessageSize: 1024, maxFragments: 4));
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(wire);
        var close = await h.ReadFrameAsync();
        Assert.True(close is not null, why);
        Assert.Equal(Opcode.Close, close!.Opcode);
        Assert.Equal(code, close.CloseCode);
        Assert.False(close.Masked);
        Assert.True(close.Payload.Length <= 125);
        Assert.True(Utf8IsValid(close.Payload.AsSpan(2)));

        // The peer answers the close, as a well-behaved one would; the server then ends the connection.
        await h.SendAsync(Frames.ClientClose(code == 1002 || code == 1007 ? 1000 : code));
        Assert.Empty(await h.ReadAllFramesAsync());
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal((CloseStatus)code, h.Connection.CloseStatus);
        Assert.Equal(WebSocketState.Closed, h.Connection.State);
        Assert.Empty(await collected.WaitAsync(Timeout));
        Assert.Empty(h.Logger.Exceptions);
    }

    private static bool Utf8IsValid(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    [Fact]
    public async Task Ends_at_the_peers_close_after_failing_in_the_middle_of_a_frame()
    {
        // 1007 is found 6 bytes into a 200-byte text frame. The rest of that frame is not a frame
        // header: the server must skip it and see the peer's close frame that follows. The close
        // timeout is infinite, so the connection can only end by recognising that close frame.
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { CloseTimeout = System.Threading.Timeout.InfiniteTimeSpan });
        var payload = new byte[200];
        payload.AsSpan().Fill((byte)'a');
        payload[5] = 0xC0;
        var frame = Frames.Client(Opcode.Text, payload);
        int header = 2 + 2 + 4;
        await h.SendAsync(frame.AsMemory(0, header + 10));
        Assert.Equal(1007, (await h.ReadFrameAsync())!.CloseCode);

        await h.SendAsync(Frames.Concat(frame[(header + 10)..], Frames.ClientClose(1000)));
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.InvalidPayloadData, h.Connection.CloseStatus);
        Assert.Equal(WebSocketState.Closed, h.Connection.State);
        Assert.Null(await h.ReadFrameAsync());   // our output is complete: we closed TCP
    }

    [Fact]
    public async Task Ends_within_the_close_timeout_when_the_peer_closes_and_stops_reading()
    {
        // The peer stops reading (our output is full), then sends its close frame. The close
        // handshake can never finish; it must be bounded by CloseTimeout like any other.
        await using var h = new PipeHarness(options: Options(closeTimeoutSeconds: 0.3));
        var stuck = h.Connection.SendBinaryAsync(new byte[200_000]).AsTask();
        await Task.Delay(100);
        Assert.False(stuck.IsCompleted);
        await h.SendAsync(Frames.ClientClose(1000));
        var ended = await Task.WhenAny(h.Connection.Completion, Task.Delay(TimeSpan.FromSeconds(3)));
        Assert.True(ended == h.Connection.Completion, "the connection never ended: the close answer waits forever on a peer that does not read");
        await Assert.ThrowsAnyAsync<Exception>(() => stuck.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Close_is_bounded_by_the_close_timeout_when_the_peer_stops_reading()
    {
        await using var h = new PipeHarness(options: Options(closeTimeoutSeconds: 0.3));
        var stuck = h.Connection.SendBinaryAsync(new byte[200_000]).AsTask();
        await Task.Delay(100);
        await h.Connection.CloseAsync().WaitAsync(Timeout);
        Assert.Equal(CloseStatus.AbnormalClosure, h.Connection.CloseStatus);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => stuck.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Sends_lone_surrogates_as_replacement_characters()
    {
        await using var h = new PipeHarness();
        await h.Connection.SendTextAsync("a\uD800b");
        var frame = await h.ReadFrameAsync();
        Assert.Equal([0x61, 0xEF, 0xBF, 0xBD, 0x62], frame!.Payload);
    }

    [Fact]
    public async Task Keeps_delivering_messages_sent_before_a_protocol_error()
    {
        await using var h = new PipeHarness();
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Text, "first"), Frames.Client(Opcode.Continuation, "x")));
        Assert.Equal(1002, (await h.ReadFrameAsync())!.CloseCode);
        await h.CompleteInputAsync();
        var messages = await collected.WaitAsync(Timeout);
        Assert.Equal("first", Encoding.UTF8.GetString(Assert.Single(messages).Data));
    }

    [Fact]
    public async Task Ignores_unsolicited_pong()
    {
        await using var h = new PipeHarness();
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Pong, "unasked"), Frames.Client(Opcode.Text, "after"), Frames.ClientClose(1000)));
        var frames = await h.ReadAllFramesAsync();
        Assert.Equal(1000, Assert.Single(frames).CloseCode);
        Assert.Equal("after", Encoding.UTF8.GetString(Assert.Single(await collected.WaitAsync(Timeout)).Data));
        Assert.Equal(CloseStatus.NormalClosure, h.Connection.CloseStatus);
    }

    [Fact]
    public async Task Ping_returns_when_its_pong_arrives()
    {
        await using var h = new PipeHarness();
        var ping = h.Connection.PingAsync("probe"u8.ToArray());
        var frame = await h.ReadFrameAsync();
        Assert.Equal(Opcode.Ping, frame!.Opcode);
        Assert.Equal("probe", frame.Text);

        // A pong with other data does not answer it.
        await h.SendAsync(Frames.Client(Opcode.Pong, "other"));
        await Task.Delay(100);
        Assert.False(ping.IsCompleted);

        await h.SendAsync(Frames.Client(Opcode.Pong, "probe"));
        var rtt = await ping.WaitAsync(Timeout);
        Assert.True(rtt >= TimeSpan.Zero);
    }

    [Fact]
    public async Task Ping_without_payload_matches_its_generated_payload()
    {
        await using var h = new PipeHarness();
        var first = h.Connection.PingAsync();
        var second = h.Connection.PingAsync();
        var p1 = await h.ReadFrameAsync();
        var p2 = await h.ReadFrameAsync();
        Assert.NotEqual(p1!.Payload, p2!.Payload);
        // RFC 6455 §5.5.3: a pong may answer only the latest ping; it answers the earlier ones too.
        await h.SendAsync(Frames.Client(Opcode.Pong, p2.Payload));
        await Task.WhenAll(first, second).WaitAsync(Timeout);
    }

    [Fact]
    public async Task Pending_ping_fails_with_closed_exception_when_the_connection_ends()
    {
        await using var h = new PipeHarness();
        var ping = h.Connection.PingAsync("x"u8.ToArray());
        await h.ReadFrameAsync();
        await h.CompleteInputAsync();
        await Assert.ThrowsAsync<WebSocketClosedException>(() => ping.WaitAsync(Timeout));
        Assert.Equal(CloseStatus.AbnormalClosure, h.Connection.CloseStatus);
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
    }

    [Fact]
    public async Task Concurrent_sends_never_interleave_frames()
    {
        await using var h = new PipeHarness();
        var sizes = new[] { 0, 1, 125, 126, 1000, 16 * 1024, 16 * 1024 + 1, 70_000 };
        var expected = new List<string>();
        var senders = new List<Task>();
        for (int t = 0; t < 16; t++)
        {
            var texts = new List<string>();
            for (int i = 0; i < 25; i++)
            {
                int size = sizes[(t + i) % sizes.Length];
                var prefix = $"[{t}:{i}]";
                texts.Add(size <= prefix.Length ? prefix : prefix + new string((char)('a' + t), size - prefix.Length));
            }
            expected.AddRange(texts);
            senders.Add(Task.Run(async () =>
            {
                foreach (var text in texts)
                {
                    if (text.Length % 2 == 0) await h.Connection.SendTextAsync(text);
                    else await h.Connection.SendTextAsync(Encoding.UTF8.GetBytes(text));
                }
            }));
        }
        var received = new List<string>();
        var reading = Task.Run(async () =>
        {
            while (received.Count < expected.Count)
            {
                var frame = await h.ReadFrameAsync(TimeSpan.FromSeconds(20));
                Assert.NotNull(frame);
                Assert.True(frame!.Fin);
                Assert.Equal(Opcode.Text, frame.Opcode);
                Assert.False(frame.Masked);
                received.Add(frame.Text);
            }
        });
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(20));
        await reading.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(expected.Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Sending_after_the_peer_closed_throws_closed_exception()
    {
        await using var h = new PipeHarness();
        await h.SendAsync(Frames.ClientClose(1001));
        await h.ReadAllFramesAsync();
        await h.Connection.Completion.WaitAsync(Timeout);
        var ex = await Assert.ThrowsAsync<WebSocketClosedException>(() => h.Connection.SendTextAsync("late").AsTask());
        Assert.Equal(CloseStatus.GoingAway, ex.CloseStatus);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => h.Connection.SendBinaryAsync(new byte[3]).AsTask());
        await Assert.ThrowsAsync<WebSocketClosedException>(() => h.Connection.PingAsync());
    }

    [Fact]
    public async Task Sending_after_our_close_frame_throws_closed_exception()
    {
        await using var h = new PipeHarness(options: Options(closeTimeoutSeconds: 5));
        var closing = h.Connection.CloseAsync(CloseStatus.NormalClosure, "done");
        var close = await h.ReadFrameAsync();
        Assert.Equal(1000, close!.CloseCode);
        Assert.Equal("done", Encoding.UTF8.GetString(close.Payload.AsSpan(2)));
        Assert.Equal(WebSocketState.CloseSent, h.Connection.State);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => h.Connection.SendTextAsync("late").AsTask());

        await h.SendAsync(Frames.ClientClose(1000));
        await closing.WaitAsync(Timeout);
        Assert.Equal(WebSocketState.Closed, h.Connection.State);
        Assert.Equal(CloseStatus.NormalClosure, h.Connection.CloseStatus);
        Assert.Empty(await h.ReadAllFramesAsync());
    }

    [Fact]
    public async Task Drops_a_peer_that_never_answers_our_close_after_the_close_timeout()
    {
        // The close timeout (2 s) is long against the few steps between our close frame and the check
        // that the close still waits, and short against the 10 s bound on the whole.
        await using var h = new PipeHarness(options: Options(closeTimeoutSeconds: 2));
        var closing = h.Connection.CloseAsync(CloseStatus.GoingAway);
        Assert.Equal(1001, (await h.ReadFrameAsync())!.CloseCode);
        Assert.False(closing.IsCompleted, "the close did not wait for the peer's answer");
        Assert.Equal(WebSocketState.CloseSent, h.Connection.State);
        await closing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
        Assert.Equal(CloseStatus.AbnormalClosure, h.Connection.CloseStatus);
        Assert.Null(await h.ReadFrameAsync()); // output completed, nothing more written
    }

    [Fact]
    public async Task Drops_a_peer_that_never_answers_our_protocol_error_close_after_the_close_timeout()
    {
        await using var h = new PipeHarness(options: Options(closeTimeoutSeconds: 0.2));
        await h.SendAsync(Frames.Client(Opcode.Continuation, "x"u8));
        Assert.Equal(1002, (await h.ReadFrameAsync())!.CloseCode);
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.ProtocolError, h.Connection.CloseStatus);
    }

    [Fact]
    public async Task Peer_vanishing_without_close_records_1006()
    {
        await using var h = new PipeHarness();
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.Client(Opcode.Text, "bye"));
        await h.CompleteInputAsync();
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.AbnormalClosure, h.Connection.CloseStatus);
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
        Assert.Single(await collected.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Abort_ends_the_connection_with_1006()
    {
        var h = new PipeHarness();
        h.Connection.Abort();
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.AbnormalClosure, h.Connection.CloseStatus);
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
        await h.DisposeAsync();
    }

    [Fact]
    public async Task Rejects_invalid_close_arguments()
    {
        await using var h = new PipeHarness();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => h.Connection.CloseAsync(CloseStatus.NoStatusReceived));
        await Assert.ThrowsAsync<ArgumentException>(() => h.Connection.CloseAsync(CloseStatus.NormalClosure, new string('a', 124)));
        await Assert.ThrowsAsync<ArgumentException>(() => h.Connection.SendTextAsync(new byte[] { 0xFF }).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => h.Connection.PingAsync(new byte[126]));
    }

    [Fact]
    public async Task Client_role_masks_every_frame_with_differing_keys()
    {
        await using var h = new PipeHarness(WebSocketRole.Client);
        var sent = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            var text = $"message {i} " + new string('z', i * 37);
            sent.Add(text);
            if (i % 3 == 0) await h.Connection.SendBinaryAsync(Encoding.UTF8.GetBytes(text));
            else await h.Connection.SendTextAsync(text);
        }
        var ping = h.Connection.PingAsync("p"u8.ToArray());
        var frames = new List<WireFrame>();
        for (int i = 0; i < 41; i++) frames.Add((await h.ReadFrameAsync())!);
        Assert.All(frames, f => Assert.True(f.Masked));
        Assert.Equal(sent, frames.Take(40).Select(f => f.Text));
        Assert.Equal(41, frames.Select(f => f.MaskKey).Distinct().Count());

        // The client accepts the server's unmasked pong, and masks its close answer too.
        await h.SendAsync(Frames.Server(Opcode.Pong, "p"u8));
        await ping.WaitAsync(Timeout);
        await h.SendAsync(Frames.Server(Opcode.Close, Frames.ClosePayload(1000)));
        var close = await h.ReadFrameAsync();
        Assert.True(close!.Masked);
        Assert.Equal(1000, close.CloseCode);
        // RFC 6455 §7.1.1: the client waits for the server to close TCP.
        await h.CompleteInputAsync();
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(WebSocketState.Closed, h.Connection.State);
    }

    [Fact]
    public async Task Client_role_fails_masked_server_frame_with_1002()
    {
        await using var h = new PipeHarness(WebSocketRole.Client);
        await h.SendAsync(Frames.Client(Opcode.Text, "masked"));
        var close = await h.ReadFrameAsync();
        Assert.True(close!.Masked);
        Assert.Equal(1002, close.CloseCode);
    }

    [Fact]
    public async Task Client_role_drops_a_server_that_never_closes_tcp_after_the_close_timeout()
    {
        await using var h = new PipeHarness(WebSocketRole.Client, Options(closeTimeoutSeconds: 0.2));
        await h.SendAsync(Frames.Server(Opcode.Close, Frames.ClosePayload(1000)));
        Assert.Equal(1000, (await h.ReadFrameAsync())!.CloseCode);
        await h.Connection.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.NormalClosure, h.Connection.CloseStatus);
    }

    [Fact]
    public async Task Prepared_message_goes_out_byte_for_byte()
    {
        await using var h = new PipeHarness();
        var prepared = PreparedMessage.CreateText("broadcast");
        await h.Connection.SendAsync(prepared);
        var frame = await h.ReadFrameAsync();
        Assert.Equal("broadcast", frame!.Text);
        Assert.Equal(Opcode.Text, frame.Opcode);
    }

    [Fact]
    public async Task Send_with_compress_false_clears_rsv1_on_a_deflate_connection()
    {
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { Compression = { Enabled = true } },
            compression: new Duplex.Protocol.Deflate.PerMessageDeflateParameters(true, true, 15, 15));
        var data = System.Text.Encoding.UTF8.GetBytes(new string('a', 2000));
        await h.Connection.SendAsync(data, WebSocketMessageType.Text);
        await h.Connection.SendAsync(data, WebSocketMessageType.Text, compress: false);
        await h.Connection.SendAsync(PreparedMessage.Create(data, WebSocketMessageType.Text, compress: false));
        var compressed = await h.ReadFrameAsync();
        Assert.Equal(FrameHeader.Rsv1, compressed!.Rsv);
        for (int i = 0; i < 2; i++)
        {
            var plain = await h.ReadFrameAsync();
            Assert.Equal(0, plain!.Rsv);
            Assert.Equal(data, plain.Payload);
        }
        Assert.Throws<ArgumentException>(() => { _ = h.Connection.SendAsync(new byte[] { 0xFF }, WebSocketMessageType.Text, compress: false); });
    }

    [Fact]
    public async Task Prepared_message_is_refused_in_client_role()
    {
        await using var h = new PipeHarness(WebSocketRole.Client);
        await Assert.ThrowsAsync<InvalidOperationException>(() => h.Connection.SendAsync(PreparedMessage.CreateText("x")).AsTask());
    }

    [Fact]
    public async Task Reading_can_stop_and_start_again_and_a_cancelled_wait_takes_nothing()
    {
        await using var h = new PipeHarness();
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Text, "one"), Frames.Client(Opcode.Text, "two")));

        // A reader that leaves after one message; the next reader carries on with the next one.
        await foreach (var m in h.Connection.ReadMessagesAsync()) { Assert.Equal("one", m.Text); break; }
        var messages = h.Connection.ReadMessagesAsync();
        await using (var reader = messages.GetAsyncEnumerator())
        {
            Assert.True(await reader.MoveNextAsync());
            Assert.Equal("two", reader.Current.Text);
        }
        // Nothing more has come: a wait cancelled by either token (the call's, the enumeration's) throws,
        // and takes nothing.
        using (var outer = new CancellationTokenSource())
        using (var cts = new CancellationTokenSource())
        {
            var reader = h.Connection.ReadMessagesAsync(outer.Token).GetAsyncEnumerator(cts.Token);
            var next = reader.MoveNextAsync().AsTask();
            Assert.False(next.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.WaitAsync(Timeout));
            await reader.DisposeAsync();
        }
        await h.SendAsync(Frames.Client(Opcode.Binary, [3]));
        await foreach (var m in h.Connection.ReadMessagesAsync()) { Assert.Equal([3], m.ToArray()); break; }

        // The close ends the sequence; asking again after the end still says so.
        await h.SendAsync(Frames.ClientClose(1000));
        await using var last = h.Connection.ReadMessagesAsync().GetAsyncEnumerator();
        Assert.False(await last.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.False(await last.MoveNextAsync());
        Assert.Equal(1000, (await h.ReadFrameAsync(Timeout))!.CloseCode);
    }

    // RFC 6455 §5.4: after a non-final fragment only its continuation may carry data. A message that
    // can no longer be finished must end the connection, not leave later senders waiting for it.

    [Fact]
    public async Task A_fragment_cancelled_mid_flush_aborts_the_connection_and_later_sends_fail()
    {
        await using var h = new PipeHarness(outputPauseBytes: 1024);
        var writer = await h.Connection.BeginMessageAsync(WebSocketMessageType.Binary);
        using var cts = new CancellationTokenSource();
        var fragment = writer.WriteAsync(new byte[64 * 1024], cts.Token).AsTask();
        Assert.False(fragment.IsCompleted);     // the peer reads nothing, so the flush waits
        cts.Cancel();
        await Assert.ThrowsAnyAsync<Exception>(() => fragment.WaitAsync(Timeout));

        await Assert.ThrowsAsync<WebSocketClosedException>(() => h.Connection.SendTextAsync("after").AsTask().WaitAsync(Timeout));
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
    }

    [Fact]
    public async Task Disposing_text_cut_inside_a_character_aborts_instead_of_blocking_later_sends()
    {
        await using var h = new PipeHarness();
        var writer = await h.Connection.BeginMessageAsync(WebSocketMessageType.Text);
        await writer.WriteAsync("☃"u8.ToArray().AsMemory(0, 1));   // valid so far: a character begun
        var first = (await h.ReadFrameAsync(Timeout))!;
        Assert.False(first.Fin);
        Assert.Equal(Opcode.Text, first.Opcode);

        await writer.DisposeAsync().AsTask().WaitAsync(Timeout);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => h.Connection.SendTextAsync("after").AsTask().WaitAsync(Timeout));
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
        Assert.Null(await h.ReadFrameAsync(Timeout));    // no continuation, no other message: the output ends
    }

    [Fact]
    public async Task A_fragmented_message_begun_but_never_written_leaves_the_connection_open()
    {
        await using var h = new PipeHarness();
        var writer = await h.Connection.BeginMessageAsync(WebSocketMessageType.Text);
        await Assert.ThrowsAsync<ArgumentException>(() => writer.WriteAsync(new byte[] { 0xFF }).AsTask());  // refused before sending
        await writer.DisposeAsync();             // an empty final fragment ends the (empty) message
        await h.Connection.SendTextAsync("after").AsTask().WaitAsync(Timeout);
        Assert.Equal(WebSocketState.Open, h.Connection.State);
        var frames = new[] { (await h.ReadFrameAsync(Timeout))!, (await h.ReadFrameAsync(Timeout))! };
        Assert.True(frames[0].Fin);
        Assert.Equal("", frames[0].Text);
        Assert.Equal("after", frames[1].Text);
    }
}
