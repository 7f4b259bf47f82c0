using System.IO.Compression;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;

namespace Duplex.Integration.Tests;

/// <summary>
/// Attacks on the upgrade and on a WebSocket, each with its defined outcome, while a normal client's
/// echo keeps working. Before the upgrade the fast path hands whatever it does not accept to Kestrel's
/// HTTP layer, so both paths answer with Kestrel's limits; after it both run the same connection.
/// bench/attacks/run.sh runs the same attacks at full size against a separate process and measures RSS.
/// </summary>
[Collection(nameof(AttackTests))] // allocations are counted process-wide: no other test class runs beside these
[CollectionDefinition(nameof(AttackTests), DisableParallelization = true)]
public class AttackTests
{
    /// <summary>Fast path or not, Duplex's transport or Kestrel's: every way a request head is read.</summary>
    public static TheoryData<bool, bool> AllPaths => new() { { true, true }, { true, false }, { false, true }, { false, false } };

    /// <summary>After the upgrade both paths run the same connection: one of each is enough.</summary>
    public static TheoryData<bool, bool> BothPaths => new() { { true, true }, { false, false } };

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory, MemberData(nameof(AllPaths))]
    public async Task Slowloris_upgrades_are_dropped_at_the_request_headers_timeout_while_a_client_echoes(bool fastPath, bool duplexSockets)
    {
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets, headersTimeout: TimeSpan.FromSeconds(1));
        await using var normal = await NormalClient.ConnectAsync(server);
        var head = Encoding.ASCII.GetBytes(Attacker.UpgradeHead(server.BaseUri));
        const int Count = 200;
        var attackers = new List<TcpClient>();
        try
        {
            for (int i = 0; i < Count; i++) attackers.Add(await Attacker.ConnectAsync(server.BaseUri));
            // Taken now: GetStream refuses once a write has found the connection closed.
            var streams = attackers.Select(a => a.GetStream()).ToArray();
            // What each attacker gets back before its connection ends: Kestrel's 408, or nothing (the fast path).
            var answers = streams.Select(s => Attacker.ReadHeadAsync(s, Bound)).ToArray();
            // One byte a second, for at most 10 s; the head is far longer, so it never completes.
            for (int second = 0; second < 10 && answers.Any(t => !t.IsCompleted); second++)
            {
                for (int i = 0; i < Count; i++)
                {
                    if (answers[i].IsCompleted) continue;
                    try
                    {
                        await streams[i].WriteAsync(head.AsMemory(second, 1));
                    }
                    catch (IOException)
                    {
                    }
                }
                await normal.EchoAsync();
                await Task.Delay(1000);
            }
            var seen = await Task.WhenAll(answers).WaitAsync(Bound);
            // Every one was closed by the server (ReadHeadAsync returns at the end of TCP), none upgraded.
            Assert.All(seen, s => Assert.True(s.Length == 0 || s.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), s));
            foreach (var stream in streams)
            {
                var rest = new byte[1];
                int n;
                try
                {
                    n = await stream.ReadAsync(rest).AsTask().WaitAsync(Bound);
                }
                catch (IOException)
                {
                    n = 0;
                }
                Assert.Equal(0, n);
            }
            await normal.EchoAsync();
        }
        finally
        {
            foreach (var a in attackers) a.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_slowloris_starting_just_before_the_timeout_gets_no_second_timeout_on_the_fast_path(bool duplexSockets)
    {
        // The fast path's deadline runs from the accept over the whole head: it drops the connection (no
        // answer). Handing the first bytes to Kestrel instead started Kestrel's timer afresh, which answered
        // 408 a whole timeout later.
        await using var server = await Attacker.StartEchoAsync(fastPath: true, duplexSockets, headersTimeout: TimeSpan.FromSeconds(2));
        await using var normal = await NormalClient.ConnectAsync(server);
        using var tcp = await Attacker.ConnectAsync(server.BaseUri);
        var stream = tcp.GetStream();
        var answer = Attacker.ReadHeadAsync(stream, Bound);
        await Task.Delay(1200);
        var head = Encoding.ASCII.GetBytes(Attacker.UpgradeHead(server.BaseUri));
        for (int i = 0; i < 60 && !answer.IsCompleted; i++)
        {
            try
            {
                await stream.WriteAsync(head.AsMemory(i, 1));
            }
            catch (IOException)
            {
                break;
            }
            await Task.WhenAny(answer, Task.Delay(300));
        }
        Assert.Equal("", await answer.WaitAsync(Bound));
        await normal.EchoAsync();
    }

    /// <summary>The floods: a 1 MB head, 10,000 headers, one huge Sec-WebSocket-Protocol.</summary>
    public static TheoryData<string, bool, bool> HeaderFloods()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (var flood in new[] { "1MB-head", "10000-headers", "huge-protocol" })
        foreach (var (fast, duplex) in new[] { (true, true), (true, false), (false, true), (false, false) })
            data.Add(flood, fast, duplex);
        return data;
    }

    private static string FloodHeaders(string flood) => flood switch
    {
        "1MB-head" => "X-Pad: " + new string('a', 1024 * 1024) + "\r\n",
        "10000-headers" => string.Concat(Enumerable.Range(0, 10_000).Select(i => $"X-H{i}: v\r\n")),
        _ => "Sec-WebSocket-Protocol: " + string.Join(", ", Enumerable.Range(0, 10_000).Select(i => $"proto{i}")) + "\r\n",
    };

    [Theory, MemberData(nameof(HeaderFloods))]
    public async Task Header_floods_are_answered_431_on_either_path_while_a_client_echoes(string flood, bool fastPath, bool duplexSockets)
    {
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets);
        await using var normal = await NormalClient.ConnectAsync(server);
        using var tcp = await Attacker.ConnectAsync(server.BaseUri);
        var stream = tcp.GetStream();
        // Read while writing: the server answers before it has read everything, then closes.
        var answer = Attacker.ReadHeadAsync(stream, Bound);
        var request = Encoding.ASCII.GetBytes(Attacker.UpgradeHead(server.BaseUri, FloodHeaders(flood)));
        using var stop = new CancellationTokenSource(Bound);
        var writing = Attacker.FloodAsync(stream, request.Chunk(16 * 1024).Select(c => (ReadOnlyMemory<byte>)c), stop.Token);
        await normal.EchoAsync();
        var head = await answer.WaitAsync(Bound);
        Assert.StartsWith("HTTP/1.1 431", head);
        await stop.CancelAsync();
        await writing;
        await normal.EchoAsync();
    }

    [Theory, MemberData(nameof(BothPaths))]
    public async Task A_million_one_byte_fragments_close_1008_at_MaxFragments(bool fastPath, bool duplexSockets)
    {
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets);
        await using var normal = await NormalClient.ConnectAsync(server);
        var (tcp, stream, _) = await Attacker.UpgradeAsync(server.BaseUri);
        using (tcp)
        {
            var closing = Attacker.ReadCloseCodeAsync(stream, Bound);
            using var stop = new CancellationTokenSource(Bound);
            var flood = Attacker.FloodAsync(stream, Fragments(1_000_000, payload: 1, final: true), stop.Token);
            await normal.EchoAsync();
            Assert.Equal(1008, await closing); // WebSocketConnectionOptions.MaxFragments, 131072 by default
            await stop.CancelAsync();
            await flood;
            await normal.EchoAsync();
        }
    }

    [Theory, MemberData(nameof(BothPaths))]
    public async Task A_million_empty_fragments_close_1008_at_MaxFragments(bool fastPath, bool duplexSockets)
    {
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets);
        await using var normal = await NormalClient.ConnectAsync(server);
        var (tcp, stream, _) = await Attacker.UpgradeAsync(server.BaseUri);
        using (tcp)
        {
            var closing = Attacker.ReadCloseCodeAsync(stream, Bound);
            using var stop = new CancellationTokenSource(Bound);
            var flood = Attacker.FloodAsync(stream, Fragments(1_000_000, payload: 0, final: true), stop.Token);
            await normal.EchoAsync();
            Assert.Equal(1008, await closing);
            await stop.CancelAsync();
            await flood;
        }
    }

    [Fact]
    public async Task A_million_fragments_under_both_limits_are_delivered_as_one_message()
    {
        await using var server = await Attacker.StartEchoAsync(true, true, o => o.Connection.MaxFragments = 2_000_000);
        var (tcp, stream, _) = await Attacker.UpgradeAsync(server.BaseUri);
        using (tcp)
        {
            var echoed = new StrongBox<long>();
            var closing = Attacker.ReadCloseCodeAsync(stream, Bound, echoed);
            using var stop = new CancellationTokenSource(Bound);
            long sent = await Attacker.FloodAsync(stream, Fragments(1_000_000, payload: 1, final: true), stop.Token);
            Assert.True(sent > 0);
            // Then a clean close: the echo (1,000,000 bytes in one message) comes before the server's answer.
            await stream.WriteAsync(Attacker.Frame(0x88, [0x03, 0xE8]));
            Assert.Equal(1000, await closing);
            Assert.Equal(1_000_000, echoed.Value);
        }
    }

    [Theory, MemberData(nameof(BothPaths))]
    public async Task Fragments_past_MaxMessageSize_close_1009(bool fastPath, bool duplexSockets)
    {
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets, o => o.Connection.MaxMessageSize = 100_000);
        await using var normal = await NormalClient.ConnectAsync(server);
        var (tcp, stream, _) = await Attacker.UpgradeAsync(server.BaseUri);
        using (tcp)
        {
            var closing = Attacker.ReadCloseCodeAsync(stream, Bound);
            using var stop = new CancellationTokenSource(Bound);
            var flood = Attacker.FloodAsync(stream, Fragments(120_000, payload: 1, final: true), stop.Token);
            Assert.Equal(1009, await closing);
            await stop.CancelAsync();
            await flood;
            await normal.EchoAsync();
        }
    }

    /// <summary>A binary message's first frame, then continuation frames, grouped into writes of about 64 KiB.</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> Fragments(int count, int payload, bool final)
    {
        var one = Attacker.Frame(0x00, new byte[payload]);
        int perChunk = 64 * 1024 / one.Length;
        var first = Attacker.Frame(0x02, new byte[payload]);
        yield return first;
        var chunk = new byte[perChunk * one.Length];
        for (int i = 0; i < perChunk; i++) one.CopyTo(chunk, i * one.Length);
        int left = count - 1 - (final ? 1 : 0);
        while (left > 0)
        {
            int n = Math.Min(left, perChunk);
            yield return chunk.AsMemory(0, n * one.Length);
            left -= n;
        }
        if (final) yield return Attacker.Frame(0x80, new byte[payload]);
    }

    /// <summary>Announced lengths: 2^62 and 2^40 (over the 64 MiB limit): 1009; the top bit set (2^63 + 1): 1002.</summary>
    public static TheoryData<ulong, int, bool, bool> AnnouncedLengths()
    {
        var data = new TheoryData<ulong, int, bool, bool>();
        foreach (var (length, code) in new[] { (1UL << 62, 1009), (1UL << 40, 1009), ((1UL << 63) + 1, 1002) })
        foreach (var (fast, duplex) in new[] { (true, true), (false, false) })
            data.Add(length, code, fast, duplex);
        return data;
    }

    [Theory, MemberData(nameof(AnnouncedLengths))]
    public async Task Announced_lengths_over_the_limit_close_before_anything_is_allocated(ulong announced, int code, bool fastPath, bool duplexSockets)
    {
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets);
        await using var normal = await NormalClient.ConnectAsync(server);
        var (tcp, stream, _) = await Attacker.UpgradeAsync(server.BaseUri);
        using (tcp)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var closing = Attacker.ReadCloseCodeAsync(stream, Bound);
            await stream.WriteAsync(Attacker.Frame(0x82, new byte[16], announced));
            Assert.Equal(code, await closing);
            await normal.EchoAsync();
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.True(allocated < 16 * 1024 * 1024, $"{allocated} bytes allocated");
        }
    }

    [Theory, MemberData(nameof(BothPaths))]
    public async Task A_frame_announcing_the_largest_allowed_size_allocates_only_what_arrives(bool fastPath, bool duplexSockets)
    {
        // 2 GiB allowed; the peer announces it all and sends 1 MiB: the buffer grows with the data.
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets, o => o.Connection.MaxMessageSize = WebSocketProtocolOptions.MaxMessageSizeLimit);
        await using var normal = await NormalClient.ConnectAsync(server);
        var (tcp, stream, _) = await Attacker.UpgradeAsync(server.BaseUri);
        using (tcp)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await stream.WriteAsync(Attacker.Frame(0x82, new byte[1024 * 1024], (ulong)WebSocketProtocolOptions.MaxMessageSizeLimit));
            await normal.EchoAsync();
            await Task.Delay(200);
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.True(allocated < 64 * 1024 * 1024, $"{allocated} bytes allocated");
            Assert.Equal(2, server.Registry.Count); // the normal client, and the attacker still connected, its frame awaited
        }
    }

    [Theory, MemberData(nameof(BothPaths))]
    public async Task A_decompression_bomb_closes_1009_at_MaxMessageSize(bool fastPath, bool duplexSockets)
    {
        const int Limit = 1024 * 1024;
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets, o =>
        {
            o.Connection.Compression.Enabled = true;
            o.Connection.MaxMessageSize = Limit;
        });
        await using var normal = await NormalClient.ConnectAsync(server);
        var (tcp, stream, head) = await Attacker.UpgradeAsync(server.BaseUri, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        using (tcp)
        {
            Assert.Contains("permessage-deflate", head);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var closing = Attacker.ReadCloseCodeAsync(stream, Bound);
            using var stop = new CancellationTokenSource(Bound);
            // 256 MiB of zeros, deflated on the fly into about 256 KB of continuation frames.
            var flood = Attacker.FloodAsync(stream, DeflatedZeros(256), stop.Token);
            Assert.Equal(1009, await closing);
            await stop.CancelAsync();
            await flood;
            await normal.EchoAsync();
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.True(allocated < 64 * 1024 * 1024, $"{allocated} bytes allocated");
        }
    }

    /// <summary>
    /// One compressed binary message (RSV1 on its first frame, RFC 7692 §6) of <paramref name="mebibytes"/>
    /// MiB of zeros, one frame per MiB deflated (sync-flushed, so every frame carries its share).
    /// </summary>
    internal static IEnumerable<ReadOnlyMemory<byte>> DeflatedZeros(int mebibytes)
    {
        var zeros = new byte[1024 * 1024];
        var sink = new MemoryStream();
        using var deflate = new DeflateStream(sink, CompressionLevel.Optimal, leaveOpen: true);
        for (int i = 0; i < mebibytes; i++)
        {
            deflate.Write(zeros);
            deflate.Flush();
            byte first = i == 0 ? (byte)0x42 : (byte)0x00; // binary + RSV1, then continuation; never final
            yield return Attacker.Frame(first, sink.GetBuffer().AsSpan(0, (int)sink.Length));
            sink.SetLength(0);
        }
    }

    [Theory, MemberData(nameof(BothPaths))]
    public async Task A_ping_flood_that_never_reads_is_stopped_by_backpressure_and_dropped_by_the_keep_alive(bool fastPath, bool duplexSockets)
    {
        var dropped = new TaskCompletionSource<CloseStatus?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await Attacker.StartEchoAsync(fastPath, duplexSockets, o =>
        {
            o.Connection.KeepAliveInterval = TimeSpan.FromSeconds(1);
            o.Connection.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        }, closed: c =>
        {
            if (c.CloseStatus != CloseStatus.NormalClosure) dropped.TrySetResult(c.CloseStatus);
        });
        await using var normal = await NormalClient.ConnectAsync(server);
        // A small receive buffer: the kernel holds few of the pongs the attacker never reads.
        using var tcp = new TcpClient { ReceiveBufferSize = 4096 };
        await tcp.ConnectAsync("127.0.0.1", server.BaseUri.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Attacker.UpgradeHead(server.BaseUri)).AsMemory());
        Assert.StartsWith("HTTP/1.1 101", await Attacker.ReadHeadAsync(stream, Bound));

        var ping = Attacker.Frame(0x89, "flood"u8);
        var chunk = new byte[64 * 1024 / ping.Length * ping.Length];
        for (int i = 0; i < chunk.Length / ping.Length; i++) ping.CopyTo(chunk, i * ping.Length);
        // Until a write waits a whole second (the server stopped reading), at most 4 GiB.
        bool stalled = false;
        for (int i = 0; i < 64 * 1024 && !stalled; i++)
        {
            var write = stream.WriteAsync(chunk).AsTask();
            if (await Task.WhenAny(write, Task.Delay(1000)) != write) stalled = true;
        }
        Assert.True(stalled, "the server kept reading pings nobody read the pongs of");
        await normal.EchoAsync();
        // Nothing comes from the attacker now, so its keep-alive ping goes unanswered: dropped (1006).
        Assert.Equal(CloseStatus.AbnormalClosure, await dropped.Task.WaitAsync(Bound));
        await normal.EchoAsync();
    }
}
