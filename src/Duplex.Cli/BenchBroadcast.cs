using System.Diagnostics;
using System.Globalization;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex bench broadcast</c>: R receivers and one publisher on <c>/broadcast</c>. Each message
/// carries its sequence number and send time (as ASCII hex, so text messages stay UTF-8); receivers
/// check the order, count gaps as lost, and time the fan-out. Flat out, the publisher keeps at most
/// <c>--depth</c> messages ahead of the slowest receiver; with <c>--rate</c> it keeps a schedule.
/// </summary>
internal static class BenchBroadcast
{
    public const int HeaderLength = 32;

    public static async Task<BenchResult> RunAsync(BenchOptions options)
    {
        var result = new BenchResult { Mode = "broadcast", Unit = "delivery", Options = options, LatencyName = "fan-out" };
        var window = new BenchWindow(options);
        var shared = new Shared(options.Connections);

        // --publish-to: receivers on one node, the publisher on another, so every delivery crosses the cluster.
        var sockets = options.PublishTarget is { } publishTarget
            ? [.. await BenchConnect.OpenAsync(options, options.Connections, result, window.Abort),
               .. await BenchConnect.OpenAsync(options, 1, result, window.Abort, firstIndex: options.Connections, target: publishTarget)]
            : await BenchConnect.OpenAsync(options, options.Connections + 1, result, window.Abort);
        if (sockets.Count < 2) return result;
        var publisherSocket = sockets[^1];
        var receivers = sockets.Take(sockets.Count - 1).Select(s => new Receiver(s, options, window, shared, result)).ToArray();
        shared.Receivers = receivers.Length;
        var publisher = new Publisher(publisherSocket, options, window, shared, result);

        var receiving = Task.WhenAll(receivers.Select(r => Task.Run(r.RunAsync)));
        var publishing = publisher.RunAsync(receivers);
        var load = Task.WhenAll(receiving, publishing);
        // The window starts once every receiver is in the group (see Publisher.JoinAsync).
        await shared.Joined.Task.WaitAsync(TimeSpan.FromSeconds(30 + options.Connections / 200.0)).ContinueWith(t =>
        {
            if (t.IsFaulted) result.RecordError(new BenchException("not every receiver got a message within the join timeout"));
        }, TaskScheduler.Default);
        await window.RunAsync(() => Interlocked.Read(ref shared.Delivered), load, "dlv");
        result.Apply(window);
        result.Latency = shared.Histogram;
        result.Lost = Interlocked.Read(ref shared.Lost);
        result.Extras.Add(("published per s", window.Seconds > 0 ? publisher.PublishedInWindow / window.Seconds : 0));
        result.Extras.Add(("recipients per message", receivers.Length + 1));
        foreach (var s in sockets) s.Dispose();
        return result;
    }

    private sealed class Shared(int receivers)
    {
        public int Receivers = receivers;
        public long Delivered;                      // messages received in order
        public long Lost;                           // gaps seen (the server dropped them for a slow receiver)
        public long FirstSeq = long.MaxValue;       // first message of the measured stream
        public int JoinedCount;
        public readonly TaskCompletionSource Joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly BenchHistogram Histogram = new();

        // The publisher waits until Delivered + Lost reaches a target.
        public long WaitTarget = long.MaxValue;
        public TaskCompletionSource? Signal;

        public void Account(long delivered, long lost)
        {
            long total = Interlocked.Add(ref Delivered, delivered);
            if (lost > 0) Interlocked.Add(ref Lost, lost);
            if (total + Interlocked.Read(ref Lost) >= Volatile.Read(ref WaitTarget)) Volatile.Read(ref Signal)?.TrySetResult();
        }

        public long Accounted => Interlocked.Read(ref Delivered) + Interlocked.Read(ref Lost);

        public async Task WaitForAsync(long target, CancellationToken cancellationToken)
        {
            if (Accounted >= target) return;
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref Signal, signal);
            Interlocked.Exchange(ref WaitTarget, target);
            if (Accounted < target)
            {
                try
                {
                    await signal.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
                }
                catch (TimeoutException)
                {
                    throw new BenchException($"broadcast stalled: {target - Accounted} deliveries missing for 10 s");
                }
            }
            Interlocked.Exchange(ref WaitTarget, long.MaxValue);
        }
    }

    internal static void WriteHeader(Span<byte> destination, long seq, long timestamp)
    {
        seq.TryFormat(destination, out _, "x16", CultureInfo.InvariantCulture);
        timestamp.TryFormat(destination[16..], out _, "x16", CultureInfo.InvariantCulture);
    }

    private sealed class Receiver(BenchSocket socket, BenchOptions options, BenchWindow window, Shared shared, BenchResult result) : BenchFrameParser
    {
        private readonly byte[] _header = new byte[HeaderLength];
        private int _offset;
        private long _expected = -1;
        private bool _joined;

        protected override int InflateLimit => options.Size;

        public async Task RunAsync()
        {
            try
            {
                var buffer = new byte[Math.Clamp(options.Size + 16, 512, 64 * 1024)];
                int leftover = socket.TakeLeftover(buffer);
                if (leftover > 0) Consume(buffer.AsSpan(0, leftover));
                while (!CloseReceived)
                {
                    int n = await socket.ReceiveAsync(buffer, window.Abort);
                    if (n == 0) throw new BenchException("server closed a receiver without a close frame");
                    Consume(buffer.AsSpan(0, n));
                    while (TryTakePong(out var pong)) await socket.SendAsync(pong, window.Abort);
                }
            }
            catch (OperationCanceledException) when (window.Abort.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                result.RecordError(ex);
            }
        }

        public async Task CloseAsync()
        {
            try
            {
                await socket.SendAsync(BenchSocket.CloseFrame, window.Abort);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // Already gone; RunAsync reports why.
            }
        }

        protected override void OnMessageStart(bool text) => _offset = 0;

        protected override void OnMessageData(ReadOnlySpan<byte> data)
        {
            if (_offset < HeaderLength)
                data[..Math.Min(data.Length, HeaderLength - _offset)].CopyTo(_header.AsSpan(_offset));
            _offset += data.Length;
        }

        protected override void OnMessageEnd()
        {
            long now = Stopwatch.GetTimestamp();
            if (_offset != options.Size) throw new BenchException($"broadcast message of {_offset} bytes, sent {options.Size}");
            long seq = long.Parse(_header.AsSpan(0, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            long sentAt = long.Parse(_header.AsSpan(16, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (!_joined)
            {
                _joined = true;
                if (Interlocked.Increment(ref shared.JoinedCount) == shared.Receivers) shared.Joined.TrySetResult();
            }
            long first = Volatile.Read(ref shared.FirstSeq);
            if (seq < first) return; // a join probe
            if (_expected < 0) _expected = first;
            if (seq < _expected) throw new BenchException($"broadcast message {seq} again or out of order (expected {_expected})");
            long lost = seq - _expected;
            _expected = seq + 1;
            if (window.Measuring) shared.Histogram.Record((long)(Stopwatch.GetElapsedTime(sentAt, now).Ticks * 100));
            shared.Account(1, lost);
        }
    }

    private sealed class Publisher(BenchSocket socket, BenchOptions options, BenchWindow window, Shared shared, BenchResult result) : BenchFrameParser
    {
        private long _published;
        private long _publishedAtWindowStart = -1;
        private long _publishedAtWindowEnd = -1;

        public long PublishedInWindow => _publishedAtWindowEnd - _publishedAtWindowStart;

        protected override int InflateLimit => options.Size;

        protected override void OnMessageStart(bool text) { }
        protected override void OnMessageData(ReadOnlySpan<byte> data) { }
        protected override void OnMessageEnd() { }

        public async Task RunAsync(Receiver[] receivers)
        {
            var drain = Task.Run(DrainOwnCopiesAsync);
            try
            {
                await PublishAsync();
                // Everything published is accounted for: close every receiver properly too.
                var closing = receivers.Select(r => r.CloseAsync());
                await Task.WhenAll(closing);
            }
            catch (OperationCanceledException) when (window.Abort.IsCancellationRequested)
            {
                result.RecordError(new BenchException("aborted: broadcasts still outstanding at the drain timeout"));
            }
            catch (Exception ex)
            {
                result.RecordError(ex);
                window.RequestAbort();
            }
            await drain;
        }

        private async Task PublishAsync()
        {
            var abort = window.Abort;
            var payload = BenchEcho.MakePayload(options.Size, text: true, seed: 2);
            if (!options.Text) BenchEcho.MakePayload(options.Size - HeaderLength, false, 3).CopyTo(payload, HeaderLength);
            byte opcode = options.Text ? (byte)0x1 : (byte)0x2;
            int frameLength = BenchSocket.FrameLength(options.Size);
            var batch = new byte[(frameLength + 64) * options.Depth + 1024];

            // Join: probe gently until every receiver has seen a message, then start the measured stream.
            while (!shared.Joined.Task.IsCompleted)
            {
                int length = Frame(batch, payload, opcode, _published++);
                await socket.SendAsync(batch.AsMemory(0, length), abort);
                await Task.WhenAny(shared.Joined.Task, Task.Delay(100, abort));
            }
            long first = _published;
            Volatile.Write(ref shared.FirstSeq, first);
            long start = Stopwatch.GetTimestamp();
            long receivers = shared.Receivers;

            while (!window.Stopping)
            {
                if (_publishedAtWindowStart < 0 && window.Measuring) _publishedAtWindowStart = _published;
                long inStream = _published - first;
                int k = options.Depth - (int)Math.Max(0, inStream - shared.Accounted / receivers);
                if (options.Rate > 0)
                {
                    long due = (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * options.Rate) + 1;
                    if (due <= inStream)
                    {
                        var wait = TimeSpan.FromSeconds((inStream + 1) / options.Rate) - Stopwatch.GetElapsedTime(start);
                        if (wait > TimeSpan.Zero) await Task.Delay(wait, abort);
                        continue;
                    }
                    k = (int)Math.Min(k, due - inStream);
                }
                if (k <= 0)
                {
                    // The window is full: wait until the oldest message reached every receiver.
                    await shared.WaitForAsync((inStream - options.Depth + 1) * receivers, abort);
                    continue;
                }
                k = window.Take(k);
                if (k == 0) break;
                int length = 0;
                for (int i = 0; i < k; i++) length += Frame(batch.AsSpan(length), payload, opcode, _published++);
                await socket.SendAsync(batch.AsMemory(0, length), abort);
            }
            if (_publishedAtWindowStart < 0) _publishedAtWindowStart = _published;
            _publishedAtWindowEnd = _published;
            await shared.WaitForAsync((_published - first) * receivers, abort);
            await socket.SendAsync(BenchSocket.CloseFrame, abort);
        }

        private int Frame(Span<byte> destination, byte[] payload, byte opcode, long seq)
        {
            WriteHeader(payload, seq, Stopwatch.GetTimestamp());
            if (!socket.Compressed) return BenchSocket.WriteFrame(destination, opcode, payload);
            var compressed = BenchSocket.Deflate(payload);
            return BenchSocket.WriteFrame(destination, opcode, compressed, rsv1: true);
        }

        private async Task DrainOwnCopiesAsync()
        {
            try
            {
                var buffer = new byte[Math.Clamp(options.Size * 4, 4096, 256 * 1024)];
                int leftover = socket.TakeLeftover(buffer);
                if (leftover > 0) Consume(buffer.AsSpan(0, leftover));
                while (!CloseReceived)
                {
                    int n = await socket.ReceiveAsync(buffer, window.Abort);
                    if (n == 0) break;
                    Consume(buffer.AsSpan(0, n));
                }
            }
            catch (Exception) when (window.Abort.IsCancellationRequested)
            {
            }
        }
    }
}
