using System.Diagnostics;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex bench echo</c>: C connections each keeping P messages in flight. Frames are built and
/// masked once; every echo is checked byte for byte against what was sent, and its round trip timed.
/// Each connection has a receive loop and a send loop, so a 1 MiB message echoed back in pieces while
/// it is still being sent cannot deadlock the two sides' socket buffers.
/// </summary>
internal static class BenchEcho
{
    public static async Task<BenchResult> RunAsync(BenchOptions options)
    {
        var result = new BenchResult { Mode = "echo", Unit = "message", Options = options, LatencyName = "round trip" };
        var payload = MakePayload(options.Size, options.Text, seed: 1);
        byte opcode = options.Text ? (byte)0x1 : (byte)0x2;
        var window = new BenchWindow(options);
        var histogram = new BenchHistogram();

        var sockets = await BenchConnect.OpenAsync(options, options.Connections, result, window.Abort);
        if (sockets.Count == 0) return result;
        bool compressed = sockets[0].Compressed;
        // The frame as it goes out, P copies back to back, so k messages are one send of k × frame bytes.
        var frame = compressed ? BenchSocket.BuildFrame(opcode, BenchSocket.Deflate(payload), rsv1: true) : BenchSocket.BuildFrame(opcode, payload);
        var batch = new byte[frame.Length * Math.Min(options.Depth, Math.Max(1, (4 << 20) / frame.Length))];
        for (int i = 0; i + frame.Length <= batch.Length; i += frame.Length) frame.CopyTo(batch, i);

        var loops = sockets.Select(s => new EchoLoop(s, options, window, histogram, payload, frame.Length, batch, result)).ToArray();
        var load = Task.WhenAll(loops.Select(l => l.RunAsync()));
        await window.RunAsync(() => loops.Sum(l => l.Completed), load, "msg");
        result.Apply(window);
        result.Latency = histogram;
        if (compressed) result.Extras.Add(("compressed frame bytes", frame.Length));
        foreach (var s in sockets) s.Dispose();
        return result;
    }

    public static byte[] MakePayload(int size, bool text, int seed)
    {
        var random = new Random(seed);
        var payload = new byte[size];
        if (text)
        {
            const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 {}\":,";
            for (int i = 0; i < size; i++) payload[i] = (byte)alphabet[random.Next(alphabet.Length)];
        }
        else random.NextBytes(payload);
        return payload;
    }

    private sealed class EchoLoop : BenchFrameParser
    {
        private readonly BenchSocket _socket;
        private readonly BenchOptions _options;
        private readonly BenchWindow _window;
        private readonly BenchHistogram _histogram;
        private readonly byte[] _payload;
        private readonly int _frameLength;
        private readonly byte[] _batch;
        private readonly BenchResult _result;
        private readonly long[] _sentAt;            // send timestamps, a ring indexed by message number
        private readonly SemaphoreSlim _wake = new(0);
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private long _sent;             // written by the send loop
        private long _received;         // written by the receive loop
        private int _credits;           // echoes back whose slot the send loop may reuse
        private int _sendDone;
        private int _offset;            // position in the message being checked
        private bool _messageText;

        public EchoLoop(BenchSocket socket, BenchOptions options, BenchWindow window, BenchHistogram histogram, byte[] payload, int frameLength, byte[] batch, BenchResult result)
            : base()
        {
            _socket = socket;
            _options = options;
            _window = window;
            _histogram = histogram;
            _payload = payload;
            _frameLength = frameLength;
            _batch = batch;
            _result = result;
            _sentAt = new long[options.Depth];
            _credits = options.Depth;
        }

        public long Completed => Volatile.Read(ref _received);

        protected override int InflateLimit => _payload.Length;

        public async Task RunAsync()
        {
            try
            {
                var receive = Task.Run(ReceiveLoopAsync);
                var send = Task.Run(SendLoopAsync);
                await Task.WhenAll(receive, send);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_window.Abort.IsCancellationRequested)
            {
                _result.RecordError(ex);
            }
            catch (OperationCanceledException)
            {
                _result.RecordError(new BenchException("aborted: echoes still outstanding at the drain timeout"));
            }
            finally
            {
                _socket.Dispose();
            }
        }

        private async Task SendLoopAsync()
        {
            try
            {
                var abort = _window.Abort;
                while (true)
                {
                    while (TryTakePong(out var pong)) await _socket.SendAsync(pong, abort);
                    int k = Interlocked.Exchange(ref _credits, 0);
                    if (k == 0)
                    {
                        if (_window.Stopping) break;
                        await _wake.WaitAsync(abort);
                        continue;
                    }
                    int granted = _window.Take(k);
                    if (granted < k) Interlocked.Add(ref _credits, k - granted);
                    if (granted == 0) break;
                    long now = Stopwatch.GetTimestamp();
                    for (long i = _sent; i < _sent + granted; i++) Volatile.Write(ref _sentAt[i % _sentAt.Length], now);
                    Volatile.Write(ref _sent, _sent + granted);
                    int perSend = _batch.Length / _frameLength;
                    for (int left = granted; left > 0; left -= perSend)
                        await _socket.SendAsync(_batch.AsMemory(0, Math.Min(left, perSend) * _frameLength), abort);
                }
                // No more messages: once every echo is back, start the close handshake.
                Interlocked.Exchange(ref _sendDone, 1);
                if (Volatile.Read(ref _received) == _sent) _drained.TrySetResult();
                await _drained.Task.WaitAsync(abort);
                await _socket.SendAsync(BenchSocket.CloseFrame, abort);
            }
            catch
            {
                _socket.Dispose(); // unblocks the receive loop
                throw;
            }
        }

        private async Task ReceiveLoopAsync()
        {
            var buffer = new byte[Math.Clamp(_frameLength * _options.Depth, 4096, 256 * 1024)];
            int leftover = _socket.TakeLeftover(buffer);
            if (leftover > 0) Consume(buffer.AsSpan(0, leftover));
            var abort = _window.Abort;
            while (!CloseReceived)
            {
                int n = await _socket.ReceiveAsync(buffer, abort);
                if (n == 0) throw new BenchException("server closed the connection without a close frame");
                Consume(buffer.AsSpan(0, n));
                if (PendingPongs.Count > 0) _wake.Release();
            }
            if (CloseCode != 1000 || Volatile.Read(ref _received) != Volatile.Read(ref _sent))
                throw new BenchException($"server closed with {CloseCode} after {_received} of {_sent} echoes");
        }

        protected override void OnMessageStart(bool text)
        {
            _offset = 0;
            _messageText = text;
        }

        protected override void OnMessageData(ReadOnlySpan<byte> data)
        {
            if (_offset + data.Length > _payload.Length || !data.SequenceEqual(_payload.AsSpan(_offset, data.Length)))
                throw new BenchException($"echo differs from what was sent (at byte {_offset})");
            _offset += data.Length;
        }

        protected override void OnMessageEnd()
        {
            if (_offset != _payload.Length) throw new BenchException($"echo has {_offset} bytes, sent {_payload.Length}");
            if (_messageText != _options.Text) throw new BenchException("echo came back with the other message type");
            long number = _received;
            if (number >= Volatile.Read(ref _sent)) throw new BenchException("an echo nobody sent");
            if (_window.Measuring)
                _histogram.Record((long)Stopwatch.GetElapsedTime(Volatile.Read(ref _sentAt[number % _sentAt.Length])).Ticks * 100);
            Volatile.Write(ref _received, number + 1);
            if (Interlocked.Increment(ref _credits) == 1) _wake.Release();
            if (Volatile.Read(ref _sendDone) == 1 && number + 1 == Volatile.Read(ref _sent)) _drained.TrySetResult();
        }
    }
}
