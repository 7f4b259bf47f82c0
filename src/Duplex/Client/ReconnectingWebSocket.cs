using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex;

/// <summary>Where a <see cref="ReconnectingWebSocket"/> is in its life (<see cref="ReconnectingWebSocket.State"/>).</summary>
public enum ReconnectState
{
    /// <summary>The first connection is being attempted, with no delay before it.</summary>
    Connecting,
    /// <summary>A connection is open (<see cref="ReconnectingWebSocket.Current"/>); queued sends go out on it.</summary>
    Connected,
    /// <summary>
    /// Waiting out the delay before another attempt, or making it: after a failed attempt, or
    /// after a connection ended with a code <see cref="ReconnectOptions.ShouldReconnect"/> accepts. The
    /// delay is the backoff's, at least a 429/503's <c>Retry-After</c> (up to
    /// <see cref="ReconnectOptions.MaxRetryAfter"/>), and after a server's 1001 or 1012 a random one up to
    /// <see cref="ReconnectOptions.RestartJitter"/>.
    /// </summary>
    Reconnecting,
    /// <summary>
    /// Not connected and not trying: before <see cref="ReconnectingWebSocket.StartAsync"/>, and for good
    /// after <see cref="ReconnectingWebSocket.CloseAsync"/>, when <see cref="ReconnectOptions.MaxAttempts"/>
    /// ran out, when <see cref="ReconnectOptions.ShouldReconnect"/> declined the close code, or when
    /// <see cref="ReconnectOptions.ShouldRetry"/> declined a connect error (a 4xx answer, by default).
    /// </summary>
    Disconnected,
}

/// <summary>A change of <see cref="ReconnectingWebSocket.State"/>: the attempt, the delay before it, and why.</summary>
public sealed record ReconnectStateChange(ReconnectState State, int Attempt, TimeSpan? Delay, string? Reason)
{
    /// <summary>
    /// What the last connect attempt threw, when that is why: on <see cref="ReconnectState.Reconnecting"/>
    /// after a failed attempt, and on <see cref="ReconnectState.Disconnected"/> when the client gave up on
    /// it (for a refused handshake, a <see cref="Protocol.WebSocketHandshakeException"/> with its status).
    /// Null otherwise.
    /// </summary>
    public Exception? Error { get; init; }
}

/// <summary>
/// A client connection that comes back by itself: after an abnormal end it reconnects with exponential
/// backoff and full jitter, and sends made meanwhile wait in a bounded queue and go out in order, before
/// any newer message, once connected again. Every send's task completes when its message has been
/// written to a socket, or faults with the reason it never will be. Messages from every connection
/// in turn arrive through one <see cref="ReadMessagesAsync"/>.
/// </summary>
public sealed class ReconnectingWebSocket : IAsyncDisposable
{
    private readonly Uri _uri;
    private readonly ReconnectOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly LinkedList<QueuedSend> _queue = new(); // guarded by itself, as are _queuedBytes and _terminal
    private readonly SemaphoreSlim _queueSignal = new(0);
    private readonly Channel<WebSocketMessage> _inbox = Channel.CreateBounded<WebSocketMessage>(
        new BoundedChannelOptions(256) { SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });
    private readonly TaskCompletionSource _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queuedBytes;
    private Exception? _terminal; // set once the client stopped for good: why every later send fails
    private volatile WebSocketConnection? _current;
    // Completed with the open connection; replaced by a fresh one once that connection is no longer
    // open, so the sender waits for the next connection instead of finding the old one again and again.
    private volatile TaskCompletionSource<WebSocketConnection> _connected = NewConnectedSignal();
    private CloseStatus _closeStatus = CloseStatus.NormalClosure;
    private string? _closeReason;
    private Task? _run;
    private Task? _sender;
    private volatile int _state = (int)ReconnectState.Disconnected;

    /// <summary>A client for <paramref name="uri"/>; nothing connects until <see cref="StartAsync"/>.</summary>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c>.</param>
    /// <param name="options">Backoff, attempts and send queue; null for the defaults.</param>
    /// <param name="logger">Receives failed attempts and reconnects (Information) and handler failures
    /// (Warning); null logs nothing. Each connection logs to <see cref="WebSocketClientOptions.Logger"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="uri"/> is relative, has a fragment, or its
    /// scheme is not ws, wss, http or https: as browsers' and Node ws's constructors do, this fails at
    /// once rather than on every attempt.</exception>
    public ReconnectingWebSocket(Uri uri, ReconnectOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || uri.Scheme is not ("ws" or "wss" or "http" or "https"))
            throw new ArgumentException($"'{uri}' is not a ws:// or wss:// URI.", nameof(uri));
        if (!string.IsNullOrEmpty(uri.Fragment))
            throw new ArgumentException("A WebSocket URI has no fragment (RFC 6455 §3).", nameof(uri));
        _uri = uri;
        _options = options ?? new ReconnectOptions();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Where the client is now; <see cref="ReconnectState.Disconnected"/> until started.</summary>
    public ReconnectState State => (ReconnectState)_state;

    /// <summary>Raised on every change of <see cref="State"/>, on the connecting loop's thread.</summary>
    public event Action<ReconnectStateChange>? StateChanged;

    /// <summary>The connection in use now, or null while (re)connecting.</summary>
    public WebSocketConnection? Current => _current;

    /// <summary>Messages waiting in the send queue (not the one being written, if any).</summary>
    public int QueuedCount
    {
        get
        {
            lock (_queue) return _queue.Count;
        }
    }

    /// <summary>
    /// Starts connecting; completes once the first connection is open (the first connect is retried
    /// like any other), or faults first: with <see cref="WebSocketClosedException"/> when
    /// <see cref="ReconnectOptions.MaxAttempts"/> runs out or the client is closed, and with the
    /// attempt's own error (such as a <see cref="Protocol.WebSocketHandshakeException"/> for a 401) when
    /// <see cref="ReconnectOptions.ShouldRetry"/> declines it.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_run is not null) throw new InvalidOperationException("Already started.");
        _run = Task.Run(RunAsync);
        _sender = Task.Run(SendLoopAsync);
        return _firstConnect.Task.WaitAsync(cancellationToken);
    }

    // ───────────────────────────── connecting ─────────────────────────────

    private static TaskCompletionSource<WebSocketConnection> NewConnectedSignal() =>
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Replaces <paramref name="signal"/>, completed with a connection no longer open, unless someone already did.</summary>
    private void RetireConnectedSignal(TaskCompletionSource<WebSocketConnection> signal) =>
        Interlocked.CompareExchange(ref _connected, NewConnectedSignal(), signal);

    private void SetState(ReconnectState state, int attempt, TimeSpan? delay, string? reason, Exception? error = null)
    {
        _state = (int)state;
        try
        {
            StateChanged?.Invoke(new ReconnectStateChange(state, attempt, delay, reason) { Error = error });
        }
        catch (Exception ex)
        {
            _logger.LogWarning(DuplexLogEvents.StateHandlerFailed, ex, "A StateChanged handler threw");
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        int attempt = 0;
        string? reason = null;
        Exception? lastError = null;
        TimeSpan? retryAfter = null; // what the last failed handshake's Retry-After asked for
        bool restart = false;        // the last connection ended with 1001 or 1012
        try
        {
            while (!token.IsCancellationRequested)
            {
                attempt++;
                if (_options.MaxAttempts is int max && attempt > max)
                {
                    var why = $"gave up after {max} attempt(s): {reason}";
                    var gaveUp = new WebSocketClosedException(WebSocketState.Closed, null, why, lastError);
                    GiveUp(attempt - 1, why, lastError, gaveUp, gaveUp);
                    return;
                }
                if (attempt == 1 && !_firstConnect.Task.IsCompleted)
                {
                    SetState(ReconnectState.Connecting, attempt, null, null);
                }
                else
                {
                    // After a server restart, a jittered wait that spreads its clients out; after a
                    // 429/503 with Retry-After, at least what the server asked for (capped).
                    var delay = restart ? _options.RestartDelay() : _options.DelayBefore(attempt);
                    if (retryAfter is TimeSpan asked && asked > delay) delay = asked;
                    restart = false;
                    retryAfter = null;
                    SetState(ReconnectState.Reconnecting, attempt, delay, reason, lastError);
                    await Task.Delay(delay, token).ConfigureAwait(false);
                }

                WebSocketConnection connection;
                try
                {
                    var clientOptions = _options.ConfigureAttempt is { } configure
                        ? await configure(attempt, token).ConfigureAwait(false)
                        : _options.Client;
                    connection = await WebSocketClient.ConnectAsync(_uri, clientOptions, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    reason = ex.Message;
                    lastError = ex;
                    _logger.LogInformation(DuplexLogEvents.ConnectFailed, "Connecting to {Uri} failed (attempt {Attempt}): {Reason}", _uri, attempt, ex.Message);
                    // The very first connect is retried too, unless the failure would only repeat: a
                    // refused handshake retried forever is a client hammering a server that said no.
                    if (ShouldRetry(ex))
                    {
                        retryAfter = ReconnectOptions.RetryAfter(ex, DateTimeOffset.UtcNow, _options.MaxRetryAfter);
                        if (retryAfter is TimeSpan asked) reason += $" (Retry-After: {asked.TotalSeconds:0.###} s)";
                        continue;
                    }
                    var why = $"gave up, fatal (ShouldRetry declined it): {ex.Message}";
                    GiveUp(attempt, why, ex, ex, new WebSocketClosedException(WebSocketState.Closed, null, why, ex));
                    return;
                }

                attempt = 0;
                lastError = null;
                _current = connection;
                SetState(ReconnectState.Connected, 0, null, null);
                _firstConnect.TrySetResult();
                var signal = _connected;
                signal.TrySetResult(connection);

                await PumpMessagesAsync(connection, token).ConfigureAwait(false);
                if (token.IsCancellationRequested)
                {
                    // CloseAsync: this loop owns the connection, so it closes it, even one opened
                    // just as CloseAsync was called (which it could not have seen).
                    try
                    {
                        await connection.CloseAsync(_closeStatus, _closeReason).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
                    {
                    }
                }
                await connection.Completion.ConfigureAwait(false);
                _current = null;
                RetireConnectedSignal(signal);
                if (token.IsCancellationRequested) return;

                var status = connection.CloseStatus;
                reason = $"connection ended with {(int?)status ?? 1006}{(string.IsNullOrEmpty(connection.CloseStatusDescription) ? "" : " " + connection.CloseStatusDescription)}";
                if (!_options.ShouldReconnect(status))
                {
                    SetState(ReconnectState.Disconnected, 0, null, reason);
                    Terminate(new WebSocketClosedException(WebSocketState.Closed, status, connection.CloseStatusDescription));
                    return;
                }
                restart = status is CloseStatus.GoingAway or CloseStatus.ServiceRestart;
                if (restart) reason += $" (restart: jittered delay up to {_options.RestartJitter.TotalSeconds:0.###} s)";
                _logger.LogInformation(DuplexLogEvents.Reconnecting, "{Reason}; reconnecting to {Uri}", reason, _uri);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // CloseAsync: stop where we are.
        }
        finally
        {
            _inbox.Writer.TryComplete();
            _firstConnect.TrySetException(new WebSocketClosedException(WebSocketState.Closed, null, "stopped"));
        }
    }

    /// <summary>
    /// Stops for good: reports it, fails a StartAsync still waiting with <paramref name="startError"/>, and
    /// every queued and later send with <paramref name="sendError"/>.
    /// </summary>
    private void GiveUp(int attempt, string why, Exception? cause, Exception startError, Exception sendError)
    {
        SetState(ReconnectState.Disconnected, attempt, null, why, cause);
        _firstConnect.TrySetException(startError);
        Terminate(sendError);
    }

    private bool ShouldRetry(Exception error)
    {
        try
        {
            return _options.ShouldRetry(error);
        }
        catch (Exception ex)
        {
            // A faulty predicate must not kill the connecting loop; fall back to the default rule.
            _logger.LogWarning(DuplexLogEvents.StateHandlerFailed, ex, "ReconnectOptions.ShouldRetry threw");
            return ReconnectOptions.IsTransient(error);
        }
    }

    private async Task PumpMessagesAsync(WebSocketConnection connection, CancellationToken token)
    {
        try
        {
            await foreach (var message in connection.ReadMessagesAsync(token).ConfigureAwait(false))
            {
                // The connection reuses its buffer for the next message; the reader of this
                // client may be slower, so each message gets a pooled copy it returns on iteration.
                var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, message.Length));
                message.Data.Span.CopyTo(copy);
                await _inbox.Writer.WriteAsync(new WebSocketMessage(message.Type, copy, message.Length, message.EndOfMessage), token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>Messages from every connection in turn; ends when this client stops for good.</summary>
    public async IAsyncEnumerable<WebSocketMessage> ReadMessagesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _inbox.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var message))
            {
                try
                {
                    yield return message;
                }
                finally
                {
                    message.Return();
                }
            }
        }
    }

    // ───────────────────────────── sending ─────────────────────────────

    private sealed class QueuedSend(byte[] payload, WebSocketMessageType type, long enqueuedAt)
    {
        public byte[] Payload { get; } = payload;
        public WebSocketMessageType Type { get; } = type;
        public long EnqueuedAt { get; } = enqueuedAt;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Queues <paramref name="text"/> as a text message (UTF-8; lone surrogates become U+FFFD). The task
    /// completes when it has been written to a socket, or faults with
    /// <see cref="SendQueueFullException"/> (queue full), <see cref="MessageExpiredException"/> (past
    /// <see cref="ReconnectOptions.MessageTimeToLive"/>), <see cref="WebSocketClosedException"/> (the
    /// client stopped or gave up) or <see cref="OperationCanceledException"/> (<see cref="ClearQueue"/>).
    /// </summary>
    public Task SendTextAsync(string text) => EnqueueAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    /// <summary>Queues a copy of <paramref name="data"/>; completes when it has been written to a socket.</summary>
    public Task SendBinaryAsync(ReadOnlyMemory<byte> data) => EnqueueAsync(data.ToArray(), WebSocketMessageType.Binary);

    private Task EnqueueAsync(byte[] payload, WebSocketMessageType type)
    {
        var item = new QueuedSend(payload, type, Stopwatch.GetTimestamp());
        List<QueuedSend>? dropped = null;
        lock (_queue)
        {
            // Checked under the lock that Terminate takes, so a send racing a stop is either failed
            // here or queued before Terminate fails the queue: never left waiting forever.
            if (_terminal is not null)
                return Task.FromException(new WebSocketClosedException(WebSocketState.Closed, null, "the client is stopped", _terminal));
            if (payload.Length > _options.MaxQueuedBytes || _options.MaxQueuedMessages < 1)
            {
                // Dropping others would not make room: fail this one and keep theirs.
                DuplexMetrics.QueueDrops.Add(1);
                return Task.FromException(new SendQueueFullException(
                    $"the message ({payload.Length} bytes) is larger than the send queue ({_options.MaxQueuedBytes} bytes, {_options.MaxQueuedMessages} messages); it was not queued"));
            }
            if (!HasRoomFor(payload.Length))
            {
                if (_options.QueueFullPolicy == QueueFullPolicy.Fail)
                {
                    DuplexMetrics.QueueDrops.Add(1);
                    return Task.FromException(new SendQueueFullException(
                        $"send queue full ({_queue.Count} messages, {_queuedBytes} bytes); the message was not queued"));
                }
                // DropOldest takes from the front, DropNewest from the back (the meaning of
                // BoundedChannelFullMode's modes). The message being written is not in the queue, so
                // it cannot be dropped: a task never faults for a message that goes out.
                bool oldest = _options.QueueFullPolicy == QueueFullPolicy.DropOldest;
                dropped = [];
                while (_queue.Count > 0 && !HasRoomFor(payload.Length))
                {
                    var victim = oldest ? _queue.First!.Value : _queue.Last!.Value;
                    if (oldest) _queue.RemoveFirst();
                    else _queue.RemoveLast();
                    _queuedBytes -= victim.Payload.Length;
                    dropped.Add(victim);
                }
            }
            _queue.AddLast(item);
            _queuedBytes += payload.Length;
        }
        if (dropped is not null)
        {
            DuplexMetrics.QueueDrops.Add(dropped.Count);
            var why = _options.QueueFullPolicy == QueueFullPolicy.DropOldest
                ? "dropped, the oldest in a full send queue, to make room for a newer message"
                : "dropped, the newest in a full send queue, to make room for a newer message";
            foreach (var victim in dropped) victim.Done.TrySetException(new SendQueueFullException(why));
        }
        _queueSignal.Release();
        return item.Done.Task;
    }

    private bool HasRoomFor(int length) =>
        _queue.Count < _options.MaxQueuedMessages && _queuedBytes + length <= _options.MaxQueuedBytes;

    /// <summary>
    /// Drops every message waiting in the queue; their sends fail with <see cref="OperationCanceledException"/>.
    /// The message being written at the moment, if any, is no longer queued and still completes when written.
    /// </summary>
    public void ClearQueue() => FailQueue(new OperationCanceledException("the send queue was cleared"), terminal: false);

    private void Terminate(Exception reason) => FailQueue(reason, terminal: true);

    private void FailQueue(Exception reason, bool terminal)
    {
        List<QueuedSend> failed;
        lock (_queue)
        {
            if (terminal) _terminal ??= reason;
            failed = [.. _queue];
            _queue.Clear();
            _queuedBytes = 0;
        }
        foreach (var item in failed) item.Done.TrySetException(reason);
    }

    private async Task SendLoopAsync()
    {
        var token = _stop.Token;
        QueuedSend? sending = null;
        try
        {
            while (true)
            {
                // One signal per queued message; a dropped message leaves its signal behind, which
                // only costs a wake-up that finds the queue empty.
                await _queueSignal.WaitAsync(token).ConfigureAwait(false);
                while (true)
                {
                    QueuedSend? head;
                    lock (_queue) head = _queue.First?.Value;
                    if (head is null) break; // cleared or dropped meanwhile

                    TimeSpan? remaining = null;
                    if (_options.MessageTimeToLive is TimeSpan ttl)
                    {
                        remaining = ttl - Stopwatch.GetElapsedTime(head.EnqueuedAt);
                        if (remaining <= TimeSpan.Zero)
                        {
                            if (Remove(head)) head.Done.TrySetException(new MessageExpiredException($"the message waited longer than {ttl} for a connection"));
                            break;
                        }
                    }

                    var signal = _connected;
                    if (!signal.Task.IsCompleted)
                    {
                        // Wait for a connection, but wake up when the head's time-to-live runs out.
                        try
                        {
                            await (remaining is TimeSpan r ? signal.Task.WaitAsync(r, token) : signal.Task.WaitAsync(token)).ConfigureAwait(false);
                        }
                        catch (TimeoutException)
                        {
                        }
                        continue;
                    }
                    var connection = signal.Task.Result;
                    if (connection.State != WebSocketState.Open)
                    {
                        // Closing: until the connecting loop notices, the signal still names this
                        // connection; replacing it makes the next turn wait instead of spin.
                        RetireConnectedSignal(signal);
                        continue;
                    }

                    lock (_queue)
                    {
                        // Taken out before it is written, so that no drop, clear or expiry can fail a
                        // message that then goes out anyway.
                        if (_queue.First?.Value != head) continue;
                        _queue.RemoveFirst();
                        _queuedBytes -= head.Payload.Length;
                        sending = head;
                    }
                    try
                    {
                        // Not cancelled by CloseAsync: it closes the connection instead, which ends this
                        // write one way or the other, and the task then says which.
                        if (head.Type == WebSocketMessageType.Text)
                            await connection.SendTextAsync(head.Payload, CancellationToken.None).ConfigureAwait(false);
                        else
                            await connection.SendBinaryAsync(head.Payload, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is WebSocketClosedException or IOException or ObjectDisposedException or OperationCanceledException
                                               || connection.State != WebSocketState.Open)
                    {
                        // The connection ended under us: the message goes back first in line for the
                        // next one, unless the client has stopped for good.
                        sending = null;
                        RetireConnectedSignal(signal);
                        Requeue(head);
                        continue;
                    }
                    catch (Exception ex)
                    {
                        sending = null;
                        head.Done.TrySetException(ex);
                        break;
                    }
                    sending = null;
                    head.Done.TrySetResult();
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            sending?.Done.TrySetException(new WebSocketClosedException(WebSocketState.Closed, null, "the client was closed"));
        }
    }

    private void Requeue(QueuedSend item)
    {
        Exception? terminal;
        lock (_queue)
        {
            terminal = _terminal;
            if (terminal is null)
            {
                // May leave the queue one message over its bounds until it is written again.
                _queue.AddFirst(item);
                _queuedBytes += item.Payload.Length;
            }
        }
        if (terminal is not null) item.Done.TrySetException(terminal);
    }

    private bool Remove(QueuedSend item)
    {
        lock (_queue)
        {
            if (!_queue.Remove(item)) return false;
            _queuedBytes -= item.Payload.Length;
            return true;
        }
    }

    // ───────────────────────────── stopping ─────────────────────────────

    /// <summary>
    /// Closes for good: no more reconnecting; the open connection (if any) is closed with the given code,
    /// sends still queued fail, and the one being written (if any) completes or fails as its write does.
    /// </summary>
    public async Task CloseAsync(CloseStatus status = CloseStatus.NormalClosure, string? reason = null)
    {
        _closeStatus = status;
        _closeReason = reason;
        Terminate(new WebSocketClosedException(WebSocketState.Closed, status, "the client was closed"));
        _stop.Cancel();
        if (_run is not null) await _run.ConfigureAwait(false);
        if (_sender is not null) await _sender.ConfigureAwait(false);
        SetState(ReconnectState.Disconnected, 0, null, "closed by the application");
    }

    /// <summary>Closes as <see cref="CloseAsync"/> does, with 1000, unless already closed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await CloseAsync().ConfigureAwait(false);
    }
}
