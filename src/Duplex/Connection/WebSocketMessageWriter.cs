using Duplex.Protocol;

namespace Duplex;

/// <summary>
/// A message being sent in fragments; from <see cref="WebSocketConnection.BeginMessageAsync(WebSocketMessageType, CancellationToken)"/>. Each
/// <see cref="WriteAsync"/> sends one frame; <see cref="CompleteAsync"/> sends the final one. Disposing
/// an unfinished message completes it (so the connection is never left mid-message). A message that
/// cannot be finished — a fragment failed or was cancelled after the first went out, or text disposed
/// in the middle of a character — aborts the connection (RFC 6455 §5.4 lets nothing else follow it).
/// </summary>
public sealed class WebSocketMessageWriter : IAsyncDisposable
{
    private readonly WebSocketConnection _connection;
    private readonly WebSocketMessageType _type;
    private Utf8Validator _utf8;
    private bool _completed;

    internal WebSocketMessageWriter(WebSocketConnection connection, WebSocketMessageType type, bool compress)
    {
        _connection = connection;
        _type = type;
        Compress = compress;
    }

    /// <summary>Whether the message is compressed when the connection agreed to permessage-deflate.</summary>
    internal bool Compress { get; }

    /// <summary>The type given to <see cref="WebSocketConnection.BeginMessageAsync(WebSocketMessageType, CancellationToken)"/>: the opcode of the first frame.</summary>
    public WebSocketMessageType Type => _type;

    /// <summary>Sends the next fragment. Text must be UTF-8; a character may be split between fragments.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken = default) =>
        SendAsync(fragment, endOfMessage: false, cancellationToken);

    /// <summary>Sends the last fragment (may be empty) and ends the message.</summary>
    public ValueTask CompleteAsync(ReadOnlyMemory<byte> lastFragment = default, CancellationToken cancellationToken = default) =>
        SendAsync(lastFragment, endOfMessage: true, cancellationToken);

    private async ValueTask SendAsync(ReadOnlyMemory<byte> fragment, bool endOfMessage, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_type == WebSocketMessageType.Text)
        {
            // Checked before anything is written, so a bad fragment leaves the message open and intact.
            var probe = _utf8;
            if (!probe.Feed(fragment.Span) || endOfMessage && !probe.IsComplete)
                throw new ArgumentException("Text messages must be valid UTF-8 (RFC 6455 §5.6).", nameof(fragment));
            _utf8 = probe;
        }
        var opcode = _type == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary;
        try
        {
            await _connection.WriteFragmentAsync(this, opcode, fragment, endOfMessage, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The message cannot go on: free the gate so other senders see the closed state.
            if (!_completed)
            {
                _completed = true;
                _connection.AbandonMessage(this);
            }
            throw;
        }
        if (endOfMessage)
        {
            _completed = true;
            _connection.EndMessage();
        }
    }

    /// <summary>
    /// Completes the message with an empty final fragment if it is still open; errors from a connection
    /// that has ended are swallowed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_completed) return;
        try
        {
            await CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
        {
        }
        catch (ArgumentException)
        {
            // The text so far ends inside a character: no final fragment can make it valid UTF-8.
            _completed = true;
            _connection.AbandonMessage(this);
        }
    }
}
