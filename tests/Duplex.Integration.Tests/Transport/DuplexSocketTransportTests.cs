using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Connections;
using static Duplex.Integration.Tests.Transport.TransportPair;

namespace Duplex.Integration.Tests.Transport;

/// <summary>
/// The Duplex socket transport at the <see cref="IConnectionListener"/> level: a raw client socket on one
/// side, the accepted <see cref="ConnectionContext"/> on the other, and the PipeReader/PipeWriter semantics
/// Kestrel expects of a transport (System.IO.Pipelines' own).
/// </summary>
public class DuplexSocketTransportTests
{
    private interface IProbeFeature
    {
        string Name { get; }
    }

    private sealed class ProbeFeature(string name) : IProbeFeature
    {
        public string Name { get; } = name;
    }

    private sealed class OtherEndPoint : EndPoint;

    private static readonly TimeSpan Timeout = TransportPair.Timeout;

    private static async Task<bool> CompletesWithinAsync(Task task, TimeSpan time) =>
        await Task.WhenAny(task, Task.Delay(time)) == task;

    // ---- listener ---------------------------------------------------------------------------------

    [Fact]
    public async Task Binding_port_zero_reports_the_bound_port_and_CanBind_knows_its_endpoint_types()
    {
        var factory = CreateFactory();
        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.True(factory.CanBind(new UnixDomainSocketEndPoint(Path.Combine(Path.GetTempPath(), "duplex-canbind.sock"))));
        Assert.False(factory.CanBind(new OtherEndPoint()));

        var listener = await BindLoopbackAsync(factory);
        try
        {
            var bound = Assert.IsType<IPEndPoint>(listener.EndPoint);
            Assert.Equal(IPAddress.Loopback, bound.Address);
            Assert.NotEqual(0, bound.Port);
            // Something really listens there.
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var accept = listener.AcceptAsync().AsTask();
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, bound.Port)).WaitAsync(Timeout);
            await using var server = await accept.WaitAsync(Timeout);
            Assert.NotNull(server);
        }
        finally
        {
            await listener.UnbindAsync().AsTask().WaitAsync(Timeout);
            await listener.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task After_UnbindAsync_AcceptAsync_returns_null_and_the_port_is_closed()
    {
        var listener = await BindLoopbackAsync(CreateFactory());
        var endPoint = (IPEndPoint)listener.EndPoint;
        var pending = listener.AcceptAsync().AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        await listener.UnbindAsync().AsTask().WaitAsync(Timeout);
        Assert.Null(await pending.WaitAsync(Timeout));
        Assert.Null(await listener.AcceptAsync().AsTask().WaitAsync(Timeout));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(endPoint).WaitAsync(Timeout));
        await listener.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_unix_domain_socket_endpoint_carries_data_both_ways()
    {
        Assert.True(Socket.OSSupportsUnixDomainSockets);
        var path = Path.Combine(Path.GetTempPath(), $"duplex-transport-{Guid.NewGuid():N}.sock");
        var endPoint = new UnixDomainSocketEndPoint(path);
        var factory = CreateFactory();
        Assert.True(factory.CanBind(endPoint));
        var listener = await factory.BindAsync(endPoint).AsTask().WaitAsync(Timeout);
        try
        {
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            var accept = listener.AcceptAsync().AsTask();
            await client.ConnectAsync(endPoint).WaitAsync(Timeout);
            await using var server = (await accept.WaitAsync(Timeout))!;
            Assert.NotNull(server);

            await SendAllAsync(client, "ping over uds"u8.ToArray());
            Assert.Equal("ping over uds", Encoding.ASCII.GetString(await ReadExactlyAsync(server.Transport.Input, 13)));
            await server.Transport.Output.WriteAsync("pong"u8.ToArray()).AsTask().WaitAsync(Timeout);
            Assert.Equal("pong", Encoding.ASCII.GetString(await ReceiveExactlyAsync(client, 4)));
        }
        finally
        {
            await listener.UnbindAsync().AsTask().WaitAsync(Timeout);
            await listener.DisposeAsync().AsTask().WaitAsync(Timeout);
            File.Delete(path);
        }
    }

    // ---- connection context -----------------------------------------------------------------------

    [Fact]
    public async Task Accepted_connections_report_the_socket_endpoints_and_unique_ids()
    {
        var listener = await BindLoopbackAsync(CreateFactory());
        var clients = new List<Socket>();
        var servers = new List<ConnectionContext>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var (client, server) = await ConnectAsync(listener);
                clients.Add(client);
                servers.Add(server);
            }
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(Assert.IsType<IPEndPoint>(clients[i].LocalEndPoint), Assert.IsType<IPEndPoint>(servers[i].RemoteEndPoint));
                Assert.Equal(Assert.IsType<IPEndPoint>(clients[i].RemoteEndPoint), Assert.IsType<IPEndPoint>(servers[i].LocalEndPoint));
                Assert.False(string.IsNullOrEmpty(servers[i].ConnectionId));
            }
            Assert.Equal(3, servers.Select(s => s.ConnectionId).Distinct().Count());
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
            foreach (var s in servers) await s.DisposeAsync().AsTask().WaitAsync(Timeout);
            await listener.UnbindAsync().AsTask().WaitAsync(Timeout);
            await listener.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task Features_and_Items_hold_values_of_any_type()
    {
        await using var pair = await StartAsync();
        Assert.Null(pair.Server.Features.Get<IProbeFeature>());
        var probe = new ProbeFeature("probe");
        pair.Server.Features.Set<IProbeFeature>(probe);
        Assert.Same(probe, pair.Server.Features.Get<IProbeFeature>());
        Assert.Same(probe, pair.Server.Features[typeof(IProbeFeature)]);
        var replacement = new ProbeFeature("second");
        pair.Server.Features.Set<IProbeFeature>(replacement);
        Assert.Equal("second", pair.Server.Features.Get<IProbeFeature>()!.Name);

        var key = new object();
        pair.Server.Items[key] = 42;
        pair.Server.Items["name"] = "value";
        Assert.Equal(42, pair.Server.Items[key]);
        Assert.Equal("value", pair.Server.Items["name"]);
        Assert.True(pair.Server.Items.Remove("name"));
        Assert.False(pair.Server.Items.ContainsKey("name"));
    }

    // ---- input ------------------------------------------------------------------------------------

    [Fact]
    public async Task ReadAsync_returns_what_the_peer_sent()
    {
        await using var pair = await StartAsync();
        await SendAllAsync(pair.Client, "hello transport"u8.ToArray());
        var result = await ReadBufferedAsync(pair.Input, 15);
        Assert.False(result.IsCanceled);
        Assert.Equal("hello transport", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task After_everything_was_examined_the_next_read_waits_for_new_bytes()
    {
        await using var pair = await StartAsync();
        await SendAllAsync(pair.Client, "hello"u8.ToArray());
        var first = await ReadBufferedAsync(pair.Input, 5);
        Assert.Equal("hello", Encoding.ASCII.GetString(first.Buffer.ToArray()));
        pair.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End); // nothing consumed, all examined

        var next = pair.Input.ReadAsync().AsTask();
        Assert.False(await CompletesWithinAsync(next, TimeSpan.FromMilliseconds(300)), "the read returned without new bytes");
        await SendAllAsync(pair.Client, " world"u8.ToArray());
        var second = await next.WaitAsync(Timeout);
        if (second.Buffer.Length < 11)
        {
            pair.Input.AdvanceTo(second.Buffer.Start, second.Buffer.End);
            second = await ReadBufferedAsync(pair.Input, 11);
        }
        Assert.Equal("hello world", Encoding.ASCII.GetString(second.Buffer.ToArray()));
        pair.Input.AdvanceTo(second.Buffer.End); // all consumed: the next read waits as well

        next = pair.Input.ReadAsync().AsTask();
        Assert.False(await CompletesWithinAsync(next, TimeSpan.FromMilliseconds(300)), "the read returned without new bytes");
        await SendAllAsync(pair.Client, "!"u8.ToArray());
        var third = await next.WaitAsync(Timeout);
        Assert.Equal("!", Encoding.ASCII.GetString(third.Buffer.ToArray()));
        pair.Input.AdvanceTo(third.Buffer.End);
    }

    [Fact]
    public async Task Unconsumed_bytes_are_returned_again()
    {
        await using var pair = await StartAsync();
        await SendAllAsync(pair.Client, "0123456789"u8.ToArray());
        var result = await ReadBufferedAsync(pair.Input, 10);
        pair.Input.AdvanceTo(result.Buffer.GetPosition(4)); // consumed = examined = 4 bytes

        // Not everything was examined: the rest comes back without the peer sending anything.
        result = await pair.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal("456789", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.GetPosition(2), result.Buffer.End); // consumed 2, examined all

        var next = pair.Input.ReadAsync().AsTask();
        Assert.False(await CompletesWithinAsync(next, TimeSpan.FromMilliseconds(200)), "the read returned without new bytes");
        await SendAllAsync(pair.Client, "abc"u8.ToArray());
        result = await next.WaitAsync(Timeout);
        if (result.Buffer.Length < 7)
        {
            pair.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await ReadBufferedAsync(pair.Input, 7);
        }
        Assert.Equal("6789abc", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task A_peer_FIN_completes_the_input_after_the_remaining_data()
    {
        await using var pair = await StartAsync();
        var sent = RandomBytes(300_000, seed: 1);
        await SendAllAsync(pair.Client, sent);
        pair.Client.Shutdown(SocketShutdown.Send);

        // Consume nothing: the completed result must still hold all of it.
        ReadResult result;
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            result = await pair.Input.ReadAsync(cts.Token);
            if (result.IsCompleted) break;
            pair.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
        Assert.Equal(sent.Length, result.Buffer.Length);
        Assert.True(sent.AsSpan().SequenceEqual(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.End);
        // And it stays completed.
        result = await pair.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task A_peer_reset_ends_a_pending_read()
    {
        await using var pair = await StartAsync();
        await SendAllAsync(pair.Client, "before the reset"u8.ToArray());
        Assert.Equal("before the reset", Encoding.ASCII.GetString(await ReadExactlyAsync(pair.Input, 16)));
        var pending = pair.Input.ReadAsync().AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);

        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close(); // RST

        // Either the read throws (IOException, ConnectionResetException) or it reports the end; it must not hang.
        Assert.Same(pending, await Task.WhenAny(pending, Task.Delay(Timeout)));
        ReadResult result;
        try
        {
            result = await pending;
        }
        catch (Exception ex)
        {
            Assert.True(ex is IOException, $"unexpected {ex.GetType()}: {ex.Message}");
            return;
        }
        Assert.True(result.IsCompleted, "the read returned without data and without completing");
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task CancelPendingRead_cancels_the_pending_read_or_else_the_next_one()
    {
        await using var pair = await StartAsync();
        var pending = pair.Input.ReadAsync().AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        pair.Input.CancelPendingRead();
        var result = await pending.WaitAsync(Timeout);
        Assert.True(result.IsCanceled);
        Assert.False(result.IsCompleted);
        pair.Input.AdvanceTo(result.Buffer.Start);

        // With no read pending, the next one returns canceled at once.
        pair.Input.CancelPendingRead();
        result = await pair.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.True(result.IsCanceled);
        pair.Input.AdvanceTo(result.Buffer.Start);

        // Only that one: the one after that waits for data again and gets it.
        var next = pair.Input.ReadAsync().AsTask();
        Assert.False(await CompletesWithinAsync(next, TimeSpan.FromMilliseconds(200)), "a second read was canceled too");
        await SendAllAsync(pair.Client, "data"u8.ToArray());
        result = await next.WaitAsync(Timeout);
        Assert.False(result.IsCanceled);
        Assert.Equal("data", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task TryRead_returns_buffered_bytes_and_false_when_there_are_none()
    {
        await using var pair = await StartAsync();
        Assert.False(pair.Input.TryRead(out _));

        await SendAllAsync(pair.Client, "try read"u8.ToArray());
        // The transport reads on its own: TryRead sees the bytes without a ReadAsync.
        var deadline = DateTime.UtcNow + Timeout;
        ReadResult result;
        while (true)
        {
            if (pair.Input.TryRead(out result))
            {
                if (result.Buffer.Length >= 8) break;
                pair.Input.AdvanceTo(result.Buffer.Start);
            }
            Assert.True(DateTime.UtcNow < deadline, "TryRead never returned the bytes");
            await Task.Delay(10);
        }
        Assert.Equal("try read", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.GetPosition(3));

        Assert.True(pair.Input.TryRead(out result));
        Assert.Equal(" read", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.End);
        Assert.False(pair.Input.TryRead(out _));
    }

    [Fact]
    public async Task ReadAsync_with_a_cancelled_token_throws_and_reading_goes_on_afterwards()
    {
        await using var pair = await StartAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pair.Input.ReadAsync(new CancellationToken(true)));

        using var cts = new CancellationTokenSource();
        var pending = pair.Input.ReadAsync(cts.Token).AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Timeout));

        await SendAllAsync(pair.Client, "after"u8.ToArray());
        Assert.Equal("after", Encoding.ASCII.GetString(await ReadExactlyAsync(pair.Input, 5)));
    }

    [Fact]
    public async Task ConnectionClosed_fires_when_the_peer_closes_while_nobody_reads_and_the_data_stays_readable()
    {
        await using var pair = await StartAsync();
        var closed = WhenCancelled(pair.Server.ConnectionClosed);
        var sent = RandomBytes(10_000, seed: 2);
        await SendAllAsync(pair.Client, sent);
        await Task.Delay(100);
        Assert.False(closed.IsCompleted, "ConnectionClosed fired while the peer was still connected");
        pair.Client.Close();

        await closed.WaitAsync(TimeSpan.FromSeconds(5));
        var result = await ReadBufferedAsync(pair.Input, sent.Length);
        if (!result.IsCompleted)
        {
            pair.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await pair.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        }
        Assert.True(result.IsCompleted);
        Assert.True(sent.AsSpan().SequenceEqual(result.Buffer.ToArray()));
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task ConnectionClosed_fires_when_the_peer_resets_while_nobody_reads()
    {
        await using var pair = await StartAsync();
        var closed = WhenCancelled(pair.Server.ConnectionClosed);
        await SendAllAsync(pair.Client, "some bytes nobody reads"u8.ToArray());
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close();
        await closed.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Input_reads_ahead_up_to_MaxReadBufferSize_and_then_pushes_back_on_the_peer()
    {
        // A limit that is no power of two, as a user may well configure it.
        const int maxRead = 300_000, readSize = 16 * 1024;
        // Far more than the loopback socket buffers can hold (tcp_rmem allows up to 32 MiB here).
        const long total = 96L * 1024 * 1024;
        await using var pair = await StartAsync(o =>
        {
            o.MaxReadBufferSize = maxRead;
            o.ReadSize = readSize;
        }, clientSendBufferSize: 64 * 1024);

        long sent = 0;
        var sending = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            for (long offset = 0; offset < total; offset += chunk.Length)
            {
                FillPattern(chunk, offset);
                await SendAllAsync(pair.Client, chunk);
                Interlocked.Add(ref sent, chunk.Length);
            }
        });

        // Nobody reads for a while: the transport must stop, TCP must push back, the sender must stall.
        Assert.False(await CompletesWithinAsync(sending, TimeSpan.FromSeconds(2)),
            "the peer sent 96 MiB while nobody read: the input does not stop at MaxReadBufferSize");
        Assert.True(Interlocked.Read(ref sent) < total);

        var result = await pair.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.InRange(result.Buffer.Length, maxRead - readSize, maxRead + readSize);
        pair.Input.AdvanceTo(result.Buffer.Start);

        // Now drain it all: every byte, in order.
        long received = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (received < total)
        {
            result = await pair.Input.ReadAsync(cts.Token);
            foreach (var segment in result.Buffer)
            {
                long mismatch = FirstPatternMismatch(segment.Span, received);
                Assert.True(mismatch < 0, $"wrong byte at offset {mismatch}");
                received += segment.Length;
            }
            pair.Input.AdvanceTo(result.Buffer.End);
            Assert.False(result.IsCompleted && received < total, $"input completed after {received} bytes");
        }
        Assert.Equal(total, received);
        await sending.WaitAsync(Timeout);
    }

    // ---- output -----------------------------------------------------------------------------------

    private static async Task WriteInPiecesAsync(PipeWriter output, byte[] data, List<int> pieces, int writesPerFlush, bool useSpan)
    {
        int offset = 0, writes = 0;
        foreach (int n in pieces)
        {
            if (useSpan)
            {
                var span = output.GetSpan(n);
                Assert.True(span.Length >= n, $"GetSpan({n}) returned {span.Length} bytes");
                data.AsSpan(offset, n).CopyTo(span);
            }
            else
            {
                var memory = output.GetMemory(n);
                Assert.True(memory.Length >= n, $"GetMemory({n}) returned {memory.Length} bytes");
                data.AsMemory(offset, n).CopyTo(memory);
            }
            output.Advance(n);
            offset += n;
            if (++writes % writesPerFlush == 0 || offset == data.Length)
            {
                var flush = await output.FlushAsync().AsTask().WaitAsync(Timeout);
                Assert.False(flush.IsCanceled);
                Assert.False(flush.IsCompleted);
            }
        }
    }

    [Fact]
    public async Task Output_delivers_megabytes_in_odd_pieces_intact_with_a_flush_after_each_write()
    {
        await using var pair = await StartAsync();
        var data = RandomBytes(6 * 1024 * 1024 + 17, seed: 3);
        var receiving = ReceiveExactlyAsync(pair.Client, data.Length, TimeSpan.FromSeconds(20));
        await WriteInPiecesAsync(pair.Output, data, OddPieces(data.Length, 70_000, seed: 4), writesPerFlush: 1, useSpan: false);
        var received = await receiving;
        Assert.True(data.AsSpan().SequenceEqual(received));
    }

    [Fact]
    public async Task Output_delivers_megabytes_in_odd_pieces_intact_with_several_writes_per_flush()
    {
        await using var pair = await StartAsync();
        var data = RandomBytes(6 * 1024 * 1024 + 5, seed: 5);
        var receiving = ReceiveExactlyAsync(pair.Client, data.Length, TimeSpan.FromSeconds(20));
        await WriteInPiecesAsync(pair.Output, data, OddPieces(data.Length, 70_000, seed: 6), writesPerFlush: 7, useSpan: true);
        var received = await receiving;
        Assert.True(data.AsSpan().SequenceEqual(received));
    }

    [Fact]
    public async Task Bytes_written_by_reference_go_out_in_order_with_copied_ones_also_while_the_peer_lags()
    {
        // A broadcast hands the transport its shared frame by reference. Mixed with copied writes, at odd
        // offsets of one array, several per flush, and with a peer that starts reading late (so borrowed
        // segments wait in the send loop), the peer must get exactly the bytes in the order written.
        await using var pair = await StartAsync(clientReceiveBufferSize: 4096);
        var byReference = Assert.IsAssignableFrom<IReferenceWriter>(pair.Output);
        var shared = RandomBytes(64 * 1024, seed: 11);
        var rng = new Random(12);
        var plan = new List<(int Offset, int Count, bool Reference)>();
        for (int i = 0; i < 1500; i++)
        {
            int offset = rng.Next(shared.Length - 1);
            plan.Add((offset, rng.Next(1, Math.Min(3000, shared.Length - offset) + 1), rng.Next(3) != 0));
        }
        var expected = plan.SelectMany(p => shared.Skip(p.Offset).Take(p.Count)).ToArray();
        Assert.True(expected.Length > 1024 * 1024, "enough to back up past the kernel's buffers");

        var receiving = Task.Run(async () =>
        {
            await Task.Delay(300);
            return await ReceiveExactlyAsync(pair.Client, expected.Length, TimeSpan.FromSeconds(20));
        });
        for (int i = 0; i < plan.Count; i++)
        {
            var (offset, count, reference) = plan[i];
            if (reference) byReference.WriteByReference(shared.AsMemory(offset, count));
            else pair.Output.Write(shared.AsSpan(offset, count));
            if (i % 5 == 4) Assert.False((await pair.Output.FlushAsync().AsTask().WaitAsync(Timeout)).IsCanceled);
        }
        await pair.Output.FlushAsync().AsTask().WaitAsync(Timeout);
        var received = await receiving;
        Assert.True(expected.AsSpan().SequenceEqual(received));
    }

    /// <summary>Writes patterned 256 KiB chunks until a flush has not completed for a second; returns it and the bytes written.</summary>
    private static async Task<(Task<FlushResult> Blocked, long Written)> WriteUntilFlushBlocksAsync(PipeWriter output)
    {
        const int chunk = 256 * 1024;
        long written = 0;
        while (written < 64L * 1024 * 1024)
        {
            var memory = output.GetMemory(chunk);
            FillPattern(memory.Span[..chunk], written);
            output.Advance(chunk);
            written += chunk;
            var flush = output.FlushAsync().AsTask();
            if (!await CompletesWithinAsync(flush, TimeSpan.FromSeconds(1))) return (flush, written);
            Assert.False((await flush).IsCanceled);
        }
        Assert.Fail("64 MiB were flushed to a peer that does not read: FlushAsync never waits");
        return default;
    }

    private static async Task ReceivePatternAsync(Socket client, long count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[256 * 1024];
        long received = 0;
        while (received < count)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count - received)), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException($"EOF after {received} of {count} bytes");
            long mismatch = FirstPatternMismatch(buffer.AsSpan(0, n), received);
            Assert.True(mismatch < 0, $"wrong byte at offset {mismatch}");
            received += n;
        }
    }

    [Fact]
    public async Task FlushAsync_waits_for_a_peer_that_does_not_read_and_completes_when_it_reads()
    {
        await using var pair = await StartAsync(clientReceiveBufferSize: 4096);
        var (blocked, written) = await WriteUntilFlushBlocksAsync(pair.Output);
        Assert.False(blocked.IsCompleted);

        var receiving = ReceivePatternAsync(pair.Client, written);
        var result = await blocked.WaitAsync(Timeout);
        Assert.False(result.IsCanceled);
        Assert.False(result.IsCompleted);
        await receiving.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task CancelPendingFlush_makes_a_waiting_flush_return_canceled_and_no_data_is_lost()
    {
        await using var pair = await StartAsync(clientReceiveBufferSize: 4096);
        var (blocked, written) = await WriteUntilFlushBlocksAsync(pair.Output);
        pair.Output.CancelPendingFlush();
        var result = await blocked.WaitAsync(Timeout);
        Assert.True(result.IsCanceled);

        // Everything written before the cancel still goes out once the peer reads; the next flush is a normal one.
        var receiving = ReceivePatternAsync(pair.Client, written + 1000);
        var memory = pair.Output.GetMemory(1000);
        FillPattern(memory.Span[..1000], written);
        pair.Output.Advance(1000);
        result = await pair.Output.FlushAsync().AsTask().WaitAsync(Timeout);
        Assert.False(result.IsCanceled);
        await receiving.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task CancelPendingFlush_with_no_flush_pending_cancels_the_next_one_which_still_sends_its_bytes()
    {
        await using var pair = await StartAsync();
        pair.Output.CancelPendingFlush();
        var canceled = await pair.Output.WriteAsync("first"u8.ToArray()).AsTask().WaitAsync(Timeout); // write + flush
        Assert.True(canceled.IsCanceled);
        // As System.IO.Pipelines: the canceled flush still commits what was written, so it goes out.
        Assert.Equal("first", Encoding.ASCII.GetString(await ReceiveExactlyAsync(pair.Client, 5, TimeSpan.FromSeconds(3))));

        // Only that one flush was canceled.
        var result = await pair.Output.WriteAsync("second"u8.ToArray()).AsTask().WaitAsync(Timeout);
        Assert.False(result.IsCanceled);
        Assert.Equal("second", Encoding.ASCII.GetString(await ReceiveExactlyAsync(pair.Client, 6)));
    }

    [Fact]
    public async Task Completing_the_output_and_disposing_sends_everything_flushed_then_EOF()
    {
        await using var pair = await StartAsync();
        var data = RandomBytes(3 * 1024 * 1024 + 3, seed: 7);
        var receiving = ReceiveToEndAsync(pair.Client, TimeSpan.FromSeconds(20));
        await WriteInPiecesAsync(pair.Output, data, OddPieces(data.Length, 50_000, seed: 8), writesPerFlush: 3, useSpan: false);
        await pair.Output.CompleteAsync().AsTask().WaitAsync(Timeout);
        await pair.DisposeServerAsync();
        var received = await receiving;
        Assert.Equal(data.Length, received.Length);
        Assert.True(data.AsSpan().SequenceEqual(received));
    }

    [Fact]
    public async Task Abort_closes_the_connection_ends_a_pending_read_and_fires_ConnectionClosed()
    {
        await using var pair = await StartAsync();
        var closed = WhenCancelled(pair.Server.ConnectionClosed);
        var pending = pair.Input.ReadAsync().AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        Assert.False(closed.IsCompleted);

        pair.Server.Abort();

        // The peer sees EOF or a reset.
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            int n = await pair.Client.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token);
            Assert.Equal(0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset)
        {
        }
        await closed.WaitAsync(Timeout);
        // The pending read ends too (completed or faulted), rather than waiting forever.
        Assert.Same(pending, await Task.WhenAny(pending, Task.Delay(Timeout)));
        ReadResult result;
        try
        {
            result = await pending;
        }
        catch (Exception)
        {
            return; // faulted (ConnectionAbortedException, as Kestrel's own transport): the read ended
        }
        Assert.True(result.IsCompleted || result.IsCanceled, "the read returned without data, completion or cancel");
        pair.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task Writing_after_Abort_neither_throws_nor_waits_and_reports_completion()
    {
        await using var pair = await StartAsync();
        var closed = WhenCancelled(pair.Server.ConnectionClosed);
        pair.Server.Abort();
        await closed.WaitAsync(Timeout);

        // As Kestrel's own transport: nothing throws, and once the connection is torn down (at once or soon after)
        // the output's reader is gone, so flushes report IsCompleted.
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var memory = pair.Output.GetMemory(100);
            memory.Span[..100].Fill(1);
            pair.Output.Advance(100);
            var result = await pair.Output.FlushAsync().AsTask().WaitAsync(Timeout);
            if (result.IsCompleted) break;
            Assert.True(DateTime.UtcNow < deadline, "flushes after Abort never reported IsCompleted");
            await Task.Delay(10);
        }
        await pair.Output.CompleteAsync().AsTask().WaitAsync(Timeout);
        // Nothing is left half-sent: disposing does not wait for a send that cannot happen.
        var disposing = Stopwatch.StartNew();
        await pair.DisposeServerAsync();
        Assert.True(disposing.Elapsed < TimeSpan.FromSeconds(2), $"DisposeAsync after Abort took {disposing.Elapsed}");
    }

    // ---- both directions --------------------------------------------------------------------------

    [Fact]
    public async Task Full_duplex_echo_of_megabytes_keeps_both_directions_intact()
    {
        await using var pair = await StartAsync();
        var input = pair.Input;
        var output = pair.Output;
        var echo = Task.Run(async () =>
        {
            long echoed = 0;
            while (true)
            {
                var result = await input.ReadAsync();
                foreach (var segment in result.Buffer) output.Write(segment.Span);
                echoed += result.Buffer.Length;
                input.AdvanceTo(result.Buffer.End);
                var flush = await output.FlushAsync();
                if (result.IsCompleted || flush.IsCompleted) return echoed;
            }
        });

        var data = RandomBytes(8 * 1024 * 1024 + 11, seed: 9);
        var receiving = ReceiveExactlyAsync(pair.Client, data.Length, TimeSpan.FromSeconds(20));
        var sending = Task.Run(async () =>
        {
            int offset = 0;
            foreach (int n in OddPieces(data.Length, 70_000, seed: 10))
            {
                await SendAllAsync(pair.Client, data.AsMemory(offset, n));
                offset += n;
            }
        });
        await sending.WaitAsync(TimeSpan.FromSeconds(20));
        var received = await receiving;
        Assert.True(data.AsSpan().SequenceEqual(received));

        // The peer leaves; the echo loop sees the end of its input.
        pair.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(data.Length, await echo.WaitAsync(Timeout));
    }
}
