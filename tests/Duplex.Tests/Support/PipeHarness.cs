using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Support;

/// <summary>
/// A <see cref="WebSocketConnection"/> over two in-memory pipes. The test plays the peer: it writes
/// raw bytes into the connection's input and reads the raw frames the connection writes.
/// </summary>
public sealed class PipeHarness : IAsyncDisposable
{
    private readonly Pipe _toConnection;
    private readonly Pipe _fromConnection;
    private byte[] _pending = [];
    private bool _outputEnded;

    public PipeHarness(WebSocketRole role = WebSocketRole.Server, WebSocketConnectionOptions? options = null, bool outputBackpressure = true,
        long? outputPauseBytes = null, Duplex.Protocol.Deflate.PerMessageDeflateParameters? compression = null)
    {
        _toConnection = new Pipe(new PipeOptions(useSynchronizationContext: false));
        // Without backpressure the connection never waits for the test to read what it wrote.
        long pause = outputPauseBytes ?? (outputBackpressure ? -1 : 0);
        _fromConnection = new Pipe(new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: outputPauseBytes is long p ? p / 2 : pause, useSynchronizationContext: false));
        Logger = new CapturingLogger();
        Output = new CountingPipeWriter(_fromConnection.Writer);
        Connection = new WebSocketConnection(new DuplexPipe(_toConnection.Reader, Output), role, options, logger: Logger, compression: compression);
    }

    /// <summary>The connection's output, counting its flushes (each would be a write on a socket).</summary>
    public CountingPipeWriter Output { get; }

    public WebSocketConnection Connection { get; }

    public CapturingLogger Logger { get; }

    /// <summary>Sends bytes to the connection, as the peer would; false once the connection stopped reading.</summary>
    public async Task<bool> SendAsync(ReadOnlyMemory<byte> bytes)
    {
        var result = await _toConnection.Writer.WriteAsync(bytes);
        return !result.IsCompleted;
    }

    /// <summary>The peer closes its side of TCP.</summary>
    public Task CompleteInputAsync() => _toConnection.Writer.CompleteAsync().AsTask();

    /// <summary>The next whole frame the connection wrote, or null when its output ended.</summary>
    public async Task<WireFrame?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            if (Frames.TryParseOne(_pending, out var frame, out int used))
            {
                _pending = _pending[used..];
                return frame;
            }
            if (_outputEnded)
            {
                if (_pending.Length > 0) throw new InvalidDataException($"output ended inside a frame ({_pending.Length} bytes)");
                return null;
            }
            var result = await _fromConnection.Reader.ReadAsync(cts.Token);
            _pending = [.. _pending, .. result.Buffer.ToArray()];
            _fromConnection.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) _outputEnded = true;
        }
    }

    /// <summary>Every frame the connection writes until it completes its output.</summary>
    public async Task<List<WireFrame>> ReadAllFramesAsync(TimeSpan? timeout = null)
    {
        var frames = new List<WireFrame>();
        while (await ReadFrameAsync(timeout) is { } frame) frames.Add(frame);
        return frames;
    }

    /// <summary>The raw output until the connection completes it.</summary>
    public async Task<byte[]> ReadAllBytesAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var all = new List<byte>(_pending);
        _pending = [];
        while (!_outputEnded)
        {
            var result = await _fromConnection.Reader.ReadAsync(cts.Token);
            all.AddRange(result.Buffer.ToArray());
            _fromConnection.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) _outputEnded = true;
        }
        return [.. all];
    }

    /// <summary>Collects every message into a list (copying each before the next is requested).</summary>
    public Task<List<(WebSocketMessageType Type, byte[] Data, bool EndOfMessage)>> CollectMessagesAsync(CancellationToken token = default) => Task.Run(async () =>
    {
        var messages = new List<(WebSocketMessageType, byte[], bool)>();
        await foreach (var m in Connection.ReadMessagesAsync(token)) messages.Add((m.Type, m.ToArray(), m.EndOfMessage));
        return messages;
    });

    public async ValueTask DisposeAsync()
    {
        Connection.Abort();
        await Connection.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        await _toConnection.Writer.CompleteAsync();
        await _fromConnection.Reader.CompleteAsync();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}

/// <summary>Records what the connection logs; an exception logged over in-memory pipes is a bug in the engine.</summary>
public sealed class CapturingLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

    public IEnumerable<Exception> Exceptions => Entries.Where(e => e.Exception is not null).Select(e => e.Exception!);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception), exception));
}

/// <summary>A pipe writer that counts flushes and passes everything on.</summary>
public sealed class CountingPipeWriter(PipeWriter inner) : PipeWriter
{
    private int _flushes;

    public int Flushes => Volatile.Read(ref _flushes);

    public void ResetCount() => Volatile.Write(ref _flushes, 0);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _flushes);
        return inner.FlushAsync(cancellationToken);
    }

    public override void Advance(int bytes) => inner.Advance(bytes);
    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);
    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    public override void CancelPendingFlush() => inner.CancelPendingFlush();
    public override void Complete(Exception? exception = null) => inner.Complete(exception);
    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;
    public override long UnflushedBytes => inner.UnflushedBytes;
}
