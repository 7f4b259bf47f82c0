using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Duplex.Attacks;

/// <summary>
/// Runs one attack at full size against the server in another process while <see cref="NormalEcho"/>
/// echoes, then prints one JSON line: the outcome seen, the server's RSS before (VmRSS) and its peak
/// (VmHWM), and the normal client's latencies.
/// </summary>
internal static class AttackRunner
{
    public static readonly string[] Names =
    [
        "slowloris", "slowloris-late", "head-1mb", "headers-10000", "protocol-huge", "fragments-1m", "fragments-1m-empty",
        "length-2^62", "length-msb", "length-announced-64mib", "bomb-1gb", "ping-flood",
        "eio-no-connect", "eio-post-413", "eio-double-get",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var name = args[0];
        int port = int.Parse(AttackServer.Option(args, "--port")!);
        int pid = int.Parse(AttackServer.Option(args, "--pid")!);
        var path = AttackServer.Option(args, "--path") ?? "fast";
        var http = new Uri($"http://127.0.0.1:{port}");
        var ws = new Uri($"ws://127.0.0.1:{port}/{path}");
        bool eio = name.StartsWith("eio", StringComparison.Ordinal);

        await using var normal = eio ? await NormalEcho.SocketIOAsync(http) : await NormalEcho.WebSocketAsync(ws);
        await normal.WarmUpAsync(200);
        await Task.Delay(500);
        long baseline = StatusKiB(pid, "VmRSS");
        normal.Start();
        var clock = Stopwatch.StartNew();
        Func<Task<string>> attack = name switch
        {
            "slowloris" => () => SlowlorisAsync(ws, 1000, TimeSpan.FromSeconds(20), firstByteAfter: TimeSpan.Zero),
            "slowloris-late" => () => SlowlorisAsync(ws, 1000, TimeSpan.FromSeconds(30), firstByteAfter: TimeSpan.FromSeconds(9)),
            "head-1mb" => () => HeadFloodAsync(ws, "X-Pad: " + new string('a', 1024 * 1024) + "\r\n", 100),
            "headers-10000" => () => HeadFloodAsync(ws, string.Concat(Enumerable.Range(0, 10_000).Select(i => $"X-H{i}: v\r\n")), 100),
            "protocol-huge" => () => HeadFloodAsync(ws, "Sec-WebSocket-Protocol: " + string.Join(", ", Enumerable.Range(0, 100_000).Select(i => $"p{i}")) + "\r\n", 100),
            "fragments-1m" => () => FragmentsAsync(ws, 1_000_000, 1),
            "fragments-1m-empty" => () => FragmentsAsync(ws, 1_000_000, 0),
            "length-2^62" => () => AnnouncedAsync(ws, 1UL << 62, 100),
            "length-msb" => () => AnnouncedAsync(ws, (1UL << 63) + 1, 100),
            "length-announced-64mib" => () => AnnouncedHeldAsync(ws, 64 * 1024 * 1024, 100),
            "bomb-1gb" => () => BombAsync(ws, 1024),
            "ping-flood" => () => PingFloodAsync(ws, 10, TimeSpan.FromSeconds(10)),
            "eio-no-connect" => () => NoConnectAsync(http, 1000),
            "eio-post-413" => () => OversizedPostsAsync(http, 100, 10 * 1024 * 1024),
            "eio-double-get" => () => DoubleGetAsync(http, 1000),
            _ => throw new ArgumentException($"unknown attack {name}"),
        };
        // The short ones are repeated for 5 s: the server under a sustained attack, and enough echoes for a p99.
        bool repeat = name is "head-1mb" or "headers-10000" or "protocol-huge" or "length-2^62" or "length-msb";
        string outcome;
        int rounds = 0;
        do
        {
            outcome = await attack();
            rounds++;
        }
        while (repeat && clock.Elapsed < TimeSpan.FromSeconds(5));
        if (rounds > 1) outcome += $"; {rounds} rounds";
        var seconds = clock.Elapsed.TotalSeconds;
        var (echoes, errors, p50, p99, max) = await normal.StopAsync();
        long peak = StatusKiB(pid, "VmHWM");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            attack = name,
            path = eio ? "socket.io" : path,
            outcome,
            seconds = Math.Round(seconds, 1),
            baselineMiB = Math.Round(baseline / 1024.0, 1),
            peakMiB = Math.Round(peak / 1024.0, 1),
            echoes,
            errors,
            p50 = Math.Round(p50, 2),
            p99 = Math.Round(p99, 2),
            max = Math.Round(max, 2),
        }));
        return 0;
    }

    private static long StatusKiB(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]);
        return -1;
    }

    // ── Helpers ──────────────────────────────────────────────────────────────────────────────────

    private static string UpgradeHead(Uri ws, string extra = "") =>
        $"GET {ws.AbsolutePath} HTTP/1.1\r\nHost: {ws.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n";

    private static async Task<TcpClient> ConnectAsync(Uri uri, int receiveBuffer = 0)
    {
        var tcp = new TcpClient();
        if (receiveBuffer > 0) tcp.ReceiveBufferSize = receiveBuffer;
        await tcp.ConnectAsync("127.0.0.1", uri.Port);
        return tcp;
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken token)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        try
        {
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one, token) == 0) break;
                head.Append((char)one[0]);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
        }
        return head.ToString();
    }

    private static async Task<(TcpClient, NetworkStream)> UpgradeAsync(Uri ws, string extra = "", int receiveBuffer = 0)
    {
        var tcp = await ConnectAsync(ws, receiveBuffer);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(UpgradeHead(ws, extra)));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var head = await ReadHeadAsync(stream, timeout.Token);
        if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) throw new IOException("upgrade refused: " + head);
        return (tcp, stream);
    }

    /// <summary>A masked client frame with mask key 0; <paramref name="announced"/> overrides the length in the header.</summary>
    private static byte[] Frame(byte first, ReadOnlySpan<byte> payload, ulong? announced = null)
    {
        ulong length = announced ?? (ulong)payload.Length;
        int extra = length < 126 ? 0 : length <= ushort.MaxValue ? 2 : 8;
        var frame = new byte[2 + extra + 4 + payload.Length];
        frame[0] = first;
        if (extra == 0) frame[1] = (byte)(0x80 | (int)length);
        else if (extra == 2)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)length);
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), length);
        }
        payload.CopyTo(frame.AsSpan(2 + extra + 4));
        return frame;
    }

    /// <summary>The server's close code (reading past its other frames); null if TCP ended first or time ran out.</summary>
    private static async Task<int?> CloseCodeAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var head = new byte[10];
        var skip = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(head.AsMemory(0, 2), cts.Token);
                long length = head[1] & 0x7F;
                if (length == 126)
                {
                    await stream.ReadExactlyAsync(head.AsMemory(2, 2), cts.Token);
                    length = BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(2));
                }
                else if (length == 127)
                {
                    await stream.ReadExactlyAsync(head.AsMemory(2, 8), cts.Token);
                    length = (long)BinaryPrimitives.ReadUInt64BigEndian(head.AsSpan(2));
                }
                if ((head[0] & 0x0F) == 0x8)
                {
                    var payload = new byte[length];
                    await stream.ReadExactlyAsync(payload, cts.Token);
                    return length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005;
                }
                while (length > 0)
                {
                    int n = (int)Math.Min(length, skip.Length);
                    await stream.ReadExactlyAsync(skip.AsMemory(0, n), cts.Token);
                    length -= n;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Writes until the chunks run out, the token fires or the server refuses; returns the bytes written.</summary>
    private static async Task<long> FloodAsync(NetworkStream stream, IEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken stop)
    {
        long sent = 0;
        try
        {
            foreach (var chunk in chunks)
            {
                if (stop.IsCancellationRequested) break;
                await stream.WriteAsync(chunk, stop);
                sent += chunk.Length;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        return sent;
    }

    private static string Tally<T>(IEnumerable<T> outcomes) =>
        string.Join(", ", outcomes.GroupBy(o => o?.ToString() ?? "none").OrderByDescending(g => g.Count()).Select(g => $"{g.Key} ×{g.Count()}"));

    private static string Percentiles(List<double> values)
    {
        if (values.Count == 0) return "-";
        values.Sort();
        return $"p50 {values[values.Count / 2]:F1} s, max {values[^1]:F1} s";
    }

    // ── The attacks ──────────────────────────────────────────────────────────────────────────────

    /// <summary>
    /// Connections that send an upgrade request a byte a second (the first after <paramref name="firstByteAfter"/>):
    /// how many the server closed, and when (from the connect).
    /// </summary>
    private static async Task<string> SlowlorisAsync(Uri ws, int count, TimeSpan max, TimeSpan firstByteAfter)
    {
        var head = Encoding.ASCII.GetBytes(UpgradeHead(ws));
        var clients = new TcpClient[count];
        for (int i = 0; i < count; i += 100)
            await Task.WhenAll(Enumerable.Range(i, Math.Min(100, count - i)).Select(async j => clients[j] = await ConnectAsync(ws)));
        var clock = Stopwatch.StartNew();
        var closedAt = new double[count];
        using var give = new CancellationTokenSource(max + TimeSpan.FromSeconds(10));
        var answers = clients.Select(async (c, i) =>
        {
            var answer = await ReadHeadAsync(c.GetStream(), give.Token);
            closedAt[i] = clock.Elapsed.TotalSeconds;
            return answer;
        }).ToArray();
        await Task.Delay(firstByteAfter);
        for (int second = 0; clock.Elapsed < max && answers.Any(a => !a.IsCompleted); second++)
        {
            for (int i = 0; i < count; i++)
            {
                if (answers[i].IsCompleted) continue;
                try
                {
                    await clients[i].GetStream().WriteAsync(head.AsMemory(second % head.Length, 1));
                }
                catch (IOException)
                {
                }
            }
            await Task.Delay(1000);
        }
        var seen = await Task.WhenAll(answers);
        foreach (var c in clients) c.Dispose();
        var times = closedAt.Where(t => t > 0).ToList();
        return $"{times.Count}/{count} closed by the server ({Percentiles(times)}); answers: {Tally(seen.Select(s => s.Length == 0 ? "none" : s[..12]))}";
    }

    /// <summary><paramref name="count"/> connections at once, each sending a request with <paramref name="headers"/>: the statuses.</summary>
    private static async Task<string> HeadFloodAsync(Uri ws, string headers, int count)
    {
        var request = Encoding.ASCII.GetBytes(UpgradeHead(ws, headers));
        var statuses = await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            using var tcp = await ConnectAsync(ws);
            var stream = tcp.GetStream();
            using var give = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var answer = ReadHeadAsync(stream, give.Token);
            using var stop = new CancellationTokenSource();
            var writing = FloodAsync(stream, request.Chunk(16 * 1024).Select(c => (ReadOnlyMemory<byte>)c), stop.Token);
            var head = await answer;
            stop.Cancel();
            await writing;
            return head.Length >= 12 ? head[9..12] : "none";
        }));
        return $"{Tally(statuses)} ({request.Length / 1024} KiB each)";
    }

    private static IEnumerable<ReadOnlyMemory<byte>> Fragments(int count, int payload)
    {
        var one = Frame(0x00, new byte[payload]);
        int perChunk = 64 * 1024 / one.Length;
        yield return Frame(0x02, new byte[payload]);
        var chunk = new byte[perChunk * one.Length];
        for (int i = 0; i < perChunk; i++) one.CopyTo(chunk, i * one.Length);
        for (int left = count - 2; left > 0; left -= perChunk)
            yield return chunk.AsMemory(0, Math.Min(left, perChunk) * one.Length);
        yield return Frame(0x80, new byte[payload]);
    }

    private static async Task<string> FragmentsAsync(Uri ws, int count, int payload)
    {
        var (tcp, stream) = await UpgradeAsync(ws);
        using (tcp)
        {
            var closing = CloseCodeAsync(stream, TimeSpan.FromSeconds(60));
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var flooding = FloodAsync(stream, Fragments(count, payload), stop.Token);
            var code = await closing;
            stop.Cancel();
            long sent = await flooding;
            return $"close {code?.ToString() ?? "none"} ({sent / (6 + payload):N0} of {count:N0} fragments written)";
        }
    }

    private static async Task<string> AnnouncedAsync(Uri ws, ulong length, int count)
    {
        var codes = await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            var (tcp, stream) = await UpgradeAsync(ws);
            using (tcp)
            {
                await stream.WriteAsync(Frame(0x82, new byte[16], length));
                return await CloseCodeAsync(stream, TimeSpan.FromSeconds(30));
            }
        }));
        return $"close {Tally(codes)}";
    }

    /// <summary>Frames announcing the largest message allowed, of which 1 MiB is sent: held open, waiting for the rest.</summary>
    private static async Task<string> AnnouncedHeldAsync(Uri ws, long length, int count)
    {
        var sockets = await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            var (tcp, stream) = await UpgradeAsync(ws);
            await stream.WriteAsync(Frame(0x82, new byte[1024 * 1024], (ulong)length));
            return tcp;
        }));
        await Task.Delay(3000);
        int open = sockets.Count(s => s.Client.Poll(0, SelectMode.SelectRead) == false);
        foreach (var s in sockets) s.Dispose();
        return $"{open}/{count} held open, each with 1 MiB of {length / (1024 * 1024)} MiB announced";
    }

    /// <summary>One compressed message of <paramref name="mebibytes"/> MiB of zeros, deflated on the fly, one frame per MiB.</summary>
    private static async Task<string> BombAsync(Uri ws, int mebibytes)
    {
        var (tcp, stream) = await UpgradeAsync(ws, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        using (tcp)
        {
            var closing = CloseCodeAsync(stream, TimeSpan.FromSeconds(120));
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            int inflated = 0;
            IEnumerable<ReadOnlyMemory<byte>> Bomb()
            {
                var zeros = new byte[1024 * 1024];
                var sink = new MemoryStream();
                using var deflate = new DeflateStream(sink, CompressionLevel.Optimal, leaveOpen: true);
                for (int i = 0; i < mebibytes; i++)
                {
                    deflate.Write(zeros);
                    deflate.Flush();
                    inflated = i + 1;
                    yield return Frame(i == 0 ? (byte)0x42 : (byte)0x00, sink.GetBuffer().AsSpan(0, (int)sink.Length));
                    sink.SetLength(0);
                }
            }
            var flooding = FloodAsync(stream, Bomb(), stop.Token);
            var code = await closing;
            stop.Cancel();
            long sent = await flooding;
            return $"close {code?.ToString() ?? "none"}; {inflated} of {mebibytes} MiB of zeros written ({sent / 1024} KiB compressed) when it came";
        }
    }

    /// <summary>Connections that send pings flat out and never read: when the server stops reading, and when it drops them.</summary>
    private static async Task<string> PingFloodAsync(Uri ws, int count, TimeSpan duration)
    {
        var ping = Frame(0x89, "flood"u8);
        var chunk = new byte[64 * 1024 / ping.Length * ping.Length];
        for (int i = 0; i < chunk.Length / ping.Length; i++) ping.CopyTo(chunk, i * ping.Length);
        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            var (tcp, stream) = await UpgradeAsync(ws, receiveBuffer: 4096);
            using (tcp)
            {
                long sent = 0;
                Task? pending = null;
                while (clock.Elapsed < duration)
                {
                    pending = stream.WriteAsync(chunk).AsTask();
                    if (await Task.WhenAny(pending, Task.Delay(duration - clock.Elapsed)) != pending) break;
                    try
                    {
                        await pending;
                    }
                    catch (IOException)
                    {
                        break;
                    }
                    pending = null;
                    sent += chunk.Length;
                }
                bool stalled = pending is not null && !pending.IsCompleted;
                // The server drops it (keep-alive unanswered): a write then fails (the stalled one, or the next).
                double droppedAt = double.NaN;
                var probe = pending ?? stream.WriteAsync(ping).AsTask();
                while (clock.Elapsed < duration + TimeSpan.FromSeconds(90))
                {
                    try
                    {
                        await probe.WaitAsync(TimeSpan.FromSeconds(90));
                    }
                    catch (Exception ex) when (ex is IOException or TimeoutException or ObjectDisposedException)
                    {
                    }
                    if (probe.IsFaulted)
                    {
                        droppedAt = clock.Elapsed.TotalSeconds;
                        break;
                    }
                    await Task.Delay(200);
                    probe = stream.WriteAsync(ping).AsTask();
                }
                return (Pings: sent / ping.Length, Stalled: stalled, DroppedAt: droppedAt);
            }
        }));
        var dropped = results.Select(r => r.DroppedAt).Where(d => !double.IsNaN(d)).ToList();
        return $"{results.Count(r => r.Stalled)}/{count} stalled (the server stopped reading) after {results.Average(r => r.Pings):N0} pings written each; " +
            $"{dropped.Count}/{count} dropped, {Percentiles(dropped)} after the flood began";
    }

    private static HttpClient NewHttp() => new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = TimeSpan.FromSeconds(120),
    };

    private static string Polling(Uri http, string? sid = null) =>
        $"{http}socket.io/?EIO=4&transport=polling" + (sid is null ? "" : "&sid=" + sid);

    private static async Task<string[]> HandshakesAsync(HttpClient client, Uri http, int count)
    {
        var sids = new ConcurrentBag<string>();
        using var gate = new SemaphoreSlim(50);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                var body = await client.GetStringAsync(Polling(http));
                sids.Add(JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!);
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. sids];
    }

    private static async Task<(int Status, string Body)> GetAsync(HttpClient client, string url)
    {
        try
        {
            using var response = await client.GetAsync(url);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }

    /// <summary>Engine.IO handshakes that never send CONNECT, each holding a poll: when the server ends them.</summary>
    private static async Task<string> NoConnectAsync(Uri http, int count)
    {
        using var client = NewHttp();
        var sids = await HandshakesAsync(client, http, count);
        var clock = Stopwatch.StartNew();
        var times = new ConcurrentBag<double>();
        var polls = await Task.WhenAll(sids.Select(async sid =>
        {
            var poll = await GetAsync(client, Polling(http, sid));
            times.Add(clock.Elapsed.TotalSeconds);
            return poll.Status == 200 && poll.Body.EndsWith('1') ? "close packet" : poll.Status.ToString();
        }));
        return $"{Tally(polls)}; held polls released at {Percentiles([.. times])} after the handshakes";
    }

    /// <summary>Polling POSTs far over maxPayload (1 MB), one per session, all at once.</summary>
    private static async Task<string> OversizedPostsAsync(Uri http, int count, int size)
    {
        using var client = NewHttp();
        var sids = await HandshakesAsync(client, http, count);
        var body = Encoding.ASCII.GetBytes("4" + new string('x', size - 1));
        var statuses = await Task.WhenAll(sids.Select(async (sid, i) =>
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "UTF-8" };
            using var request = new HttpRequestMessage(HttpMethod.Post, Polling(http, sid)) { Content = content };
            if (i % 2 == 1) request.Headers.TransferEncodingChunked = true;
            try
            {
                using var response = await client.SendAsync(request);
                return ((int)response.StatusCode).ToString();
            }
            catch (HttpRequestException)
            {
                return "reset";
            }
        }));
        // The sessions stay open, as in engine.io: a CONNECT on each goes through.
        var after = await Task.WhenAll(sids.Select(async sid =>
        {
            using var connect = new StringContent("40", Encoding.UTF8, "text/plain");
            try
            {
                using var response = await client.PostAsync(Polling(http, sid), connect);
                return await response.Content.ReadAsStringAsync() == "ok";
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }));
        return $"{Tally(statuses)} ({size / (1024 * 1024)} MiB each, half chunked); sessions still open: {after.Count(a => a)}/{count}";
    }

    /// <summary>Each session gets a held poll, then a second concurrent one.</summary>
    private static async Task<string> DoubleGetAsync(Uri http, int count)
    {
        using var client = NewHttp();
        var sids = await HandshakesAsync(client, http, count);
        var held = sids.Select(sid => GetAsync(client, Polling(http, sid))).ToArray();
        await Task.Delay(1000);
        var seconds = await Task.WhenAll(sids.Select(sid => GetAsync(client, Polling(http, sid))));
        var first = await Task.WhenAll(held);
        return $"second GET: {Tally(seconds.Select(s => s.Status))}; held GET: {Tally(first.Select(f => f.Body == "1" ? "close packet" : f.Status.ToString()))}";
    }
}
