using Duplex.Protocol;

namespace Duplex;

public sealed partial class WebSocketConnection
{
    /// <summary>
    /// The connection as a <see cref="Stream"/> (like ws' <c>createWebSocketStream</c> and .NET's
    /// <c>WebSocketStream</c>), for code that speaks streams: every write goes out as one message of
    /// <paramref name="messageType"/>; reads return the bytes of the incoming messages (text or binary)
    /// one after another, message boundaries dropped. Reading ends (returns 0) once the peer closes with
    /// 1000, 1001 or no code; any other end — another code, a dropped connection — throws
    /// <see cref="IOException"/> from the read, so a truncated stream is never taken for a complete one.
    /// Disposing the stream closes the connection with 1000 when <paramref name="ownsConnection"/>.
    /// Do not also read with <see cref="ReadMessagesAsync"/> while the stream reads.
    /// </summary>
    public Stream AsStream(WebSocketMessageType messageType = WebSocketMessageType.Binary, bool ownsConnection = true) =>
        new WebSocketConnectionStream(this, messageType, ownsConnection);
}

/// <summary>The stream of <see cref="WebSocketConnection.AsStream"/>.</summary>
internal sealed class WebSocketConnectionStream(WebSocketConnection connection, WebSocketMessageType messageType, bool ownsConnection) : Stream
{
    private IAsyncEnumerator<WebSocketMessage>? _messages;
    private Task<bool>? _pendingMove; // a read cancelled while waiting leaves its wait for the next read
    private int _offset;              // how much of the current message has been read
    private bool _hasCurrent;
    private bool _ended;
    private int _disposed;

    public override bool CanRead => _disposed == 0;
    public override bool CanWrite => _disposed == 0;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (buffer.IsEmpty) return 0;
        while (true)
        {
            if (_hasCurrent)
            {
                var data = _messages!.Current.Data;
                int n = Math.Min(buffer.Length, data.Length - _offset);
                if (n > 0)
                {
                    data.Slice(_offset, n).CopyTo(buffer);
                    _offset += n;
                    return n;
                }
                _hasCurrent = false; // used up (or empty): on to the next message
            }
            if (_ended) return EndOfStream();
            _messages ??= connection.ReadMessagesAsync().GetAsyncEnumerator();
            _pendingMove ??= _messages.MoveNextAsync().AsTask();
            bool more = await _pendingMove.WaitAsync(cancellationToken).ConfigureAwait(false);
            _pendingMove = null;
            if (!more)
            {
                _ended = true;
                return EndOfStream();
            }
            _hasCurrent = true;
            _offset = 0;
        }
    }

    /// <summary>0 after a normal close; otherwise the connection's end is the read's error.</summary>
    private int EndOfStream()
    {
        var status = connection.CloseStatus;
        if (status is CloseStatus.NormalClosure or CloseStatus.GoingAway or CloseStatus.NoStatusReceived) return 0;
        var reason = string.IsNullOrEmpty(connection.CloseStatusDescription) ? "" : $" ({connection.CloseStatusDescription})";
        throw new IOException($"The WebSocket ended with {(status is null ? "no close status" : $"{(int)status} {status}")}{reason}, not a normal close: the stream may be incomplete.",
            new WebSocketClosedException(connection.State, status, connection.CloseStatusDescription));
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return connection.SendAsync(buffer, messageType, cancellationToken);
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Each write is already a message on its way; there is nothing held back to flush.
    public override void Flush() { }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_messages is not null) await _messages.DisposeAsync().ConfigureAwait(false);
        if (ownsConnection)
        {
            try
            {
                await connection.CloseAsync(CloseStatus.NormalClosure).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketClosedException or IOException or OperationCanceledException or InvalidOperationException)
            {
                // Already closing or gone: the close is not the stream's to report.
            }
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }
}
