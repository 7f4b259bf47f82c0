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
    /// Waiting out the backoff delay before another attempt, or making it: after a failed attempt, or
    /// after a connection ended with a code <see cref="ReconnectOptions.ShouldReconnect"/> accepts.
    /// </summary>
    Reconnecting,
    /// <summary>
    /// Not connected and not trying: before <see cref="ReconnectingWebSocket.StartAsync"/>, and for good
    /// after <see cref="ReconnectingWebSocket.CloseAsync"/>, when <see cref="ReconnectOptions.MaxAttempts"/>
    /// ran out, or when <see cref="ReconnectOptions.ShouldReconnect"/> declined the close code.
    /// </summary>
    Disconnected,
}

/// <summary>A change of <see cref="ReconnectingWebSocket.State"/>: the attempt, the delay before it, and why.</summary>
public sealed record ReconnectStateChange(ReconnectState State, int Attempt, TimeSpan? Delay, string? Reason);

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
    private readonly LinkedList<QueuedSend> _queue = new(); // guarded by itself
    private readonly SemaphoreSlim _queueSignal = new(0);
    private readonly Channel<WebSocketMessage> _inbox = Channel.CreateBounded<WebSocketMessage>(
        new BoundedChannelOptions(256) { SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });
    private readonly TaskCompletionSource _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queuedBytes;
    private volatile WebSocketConnection? _current;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _run;
    private Task? _sender;
    private volatile int _state = (int)ReconnectState.Disconnected;

    /// <summary>A client for <paramref name="uri"/>; nothing connects until <see cref="StartAsync"/>.</summary>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c>.</param>
    /// <param name="options">Backoff, attempts and send queue; null for the defaults.</param>
    /// <param name="logger">Receives failed attempts and reconnects (Information) and handler failures
    /// (Warning); null logs nothing. Each connection logs to <see cref="WebSocketClientOptions.Logger"/>.</param>
    public ReconnectingWebSocket(Uri uri, ReconnectOptions? options = null, ILogger? logger = null)
    {
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

    /// <summary>Messages waiting for a connection.</summary>
    public int QueuedCount
    {
        get
        {
            lock (_queue) return _queue.Count;
        }
    }

    /// <summary>
    /// Starts connecting; completes once the first connection is open (the first connect is retried
    /// like any other), or faults when <see cref="ReconnectOptions.MaxAttempts"/> runs out first.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_run is not null) throw new InvalidOperationException("Already started.");
        _run = Task.Run(RunAsync);
        _sender = Task.Run(SendLoopAsync);
        return _firstConnect.Task.WaitAsync(cancellationToken);
    }

    // ───────────────────────────── connecting ─────────────────────────────

    private void SetState(ReconnectState state, int attempt, TimeSpan? delay, string? reason)
    {
        _state = (int)state;
        try
        {
            StateChanged?.Invoke(new ReconnectStateChange(state, attempt, delay, reason));
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
        try
        {
            while (!token.IsCancellationRequested)
            {
                attempt++;
                if (_options.MaxAttempts is int max && attempt > max)
                {
                    var why = $"gave up after {max} attempt(s): {reason}";
                    SetState(ReconnectState.Disconnected, attempt - 1, null, why);
                    _firstConnect.TrySetException(new WebSocketClosedException(WebSocketState.Closed, null, why));
                    FailQueue(new WebSocketClosedException(WebSocketState.Closed, null, why));
                    return;
                }
                if (attempt == 1 && !_firstConnect.Task.IsCompleted)
                {
                    SetState(ReconnectState.Connecting, attempt, null, null);
                }
                else
                {
                    var delay = _options.DelayBefore(attempt);
                    SetState(ReconnectState.Reconnecting, attempt, delay, reason);
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
                    _logger.LogInformation(DuplexLogEvents.ConnectFailed, "Connecting to {Uri} failed (attempt {Attempt}): {Reason}", _uri, attempt, ex.Message);
                    // The very first connect is retried too: nothing is lost by trying again.
                    continue;
                }

                attempt = 0;
                _current = connection;
                SetState(ReconnectState.Connected, 0, null, null);
                _firstConnect.TrySetResult();
                _connected.TrySetResult();

                await PumpMessagesAsync(connection, token).ConfigureAwait(false);
                await connection.Completion.ConfigureAwait(false);
                _current = null;
                _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (token.IsCancellationRequested) return;

                var status = connection.CloseStatus;
                reason = $"connection ended with {(int?)status ?? 1006}{(string.IsNullOrEmpty(connection.CloseStatusDescription) ? "" : " " + connection.CloseStatusDescription)}";
                if (!_options.ShouldReconnect(status))
                {
                    SetState(ReconnectState.Disconnected, 0, null, reason);
                    FailQueue(new WebSocketClosedException(WebSocketState.Closed, status, connection.CloseStatusDescription));
                    return;
                }
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
        if (_stop.IsCancellationRequested || State == ReconnectState.Disconnected && _run is { IsCompleted: true })
            return Task.FromException(new WebSocketClosedException(WebSocketState.Closed, null, "the client is stopped"));
        var item = new QueuedSend(payload, type, Stopwatch.GetTimestamp());
        QueuedSend? dropped = null;
        lock (_queue)
        {
            bool full = _queue.Count >= _options.MaxQueuedMessages || _queuedBytes + payload.Length > _options.MaxQueuedBytes;
            if (full)
            {
                switch (_options.QueueFullPolicy)
                {
                    case QueueFullPolicy.Fail:
                    case QueueFullPolicy.DropNewest:
                        DuplexMetrics.QueueDrops.Add(1);
                        return Task.FromException(new SendQueueFullException(
                            $"send queue full ({_queue.Count} messages, {_queuedBytes} bytes); the message was not queued"));
                    case QueueFullPolicy.DropOldest:
                        // Make room from the front; the one being sent right now is not at risk of
                        // being dropped twice because the sender takes it out before sending.
                        while (_queue.Count > 0 && (_queue.Count >= _options.MaxQueuedMessages || _queuedBytes + payload.Length > _options.MaxQueuedBytes))
                        {
                            dropped = _queue.First!.Value;
                            _queue.RemoveFirst();
                            _queuedBytes -= dropped.Payload.Length;
                            DuplexMetrics.QueueDrops.Add(1);
                            dropped.Done.TrySetException(new SendQueueFullException("dropped from a full send queue to make room for a newer message"));
                        }
                        break;
                }
            }
            _queue.AddLast(item);
            _queuedBytes += payload.Length;
        }
        _queueSignal.Release();
        return item.Done.Task;
    }

    /// <summary>Drops every queued message; their sends fail with <see cref="OperationCanceledException"/>.</summary>
    public void ClearQueue() => FailQueue(new OperationCanceledException("the send queue was cleared"));

    private void FailQueue(Exception reason)
    {
        List<QueuedSend> failed;
        lock (_queue)
        {
            failed = [.. _queue];
            _queue.Clear();
            _queuedBytes = 0;
        }
        foreach (var item in failed) item.Done.TrySetException(reason);
    }

    private async Task SendLoopAsync()
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                await _queueSignal.WaitAsync(token).ConfigureAwait(false);
                QueuedSend? item;
                lock (_queue)
                {
                    item = _queue.First?.Value;
                }
                if (item is null) continue; // cleared or dropped meanwhile
                while (true)
                {
                    if (_options.MessageTimeToLive is TimeSpan ttl && Stopwatch.GetElapsedTime(item.EnqueuedAt) > ttl)
                    {
                        Remove(item);
                        item.Done.TrySetException(new MessageExpiredException($"the message waited longer than {ttl} for a connection"));
                        break;
                    }
                    var connection = _current;
                    if (connection is null || connection.State != WebSocketState.Open)
                    {
                        // Wait for a connection, but wake up to honour the time-to-live.
                        var connected = _connected.Task;
                        var wait = _options.MessageTimeToLive is TimeSpan t ? connected.WaitAsync(t, token) : connected.WaitAsync(token);
                        try
                        {
                            await wait.ConfigureAwait(false);
                        }
                        catch (TimeoutException)
                        {
                        }
                        if (!IsQueued(item)) break; // dropped or cleared while waiting
                        continue;
                    }
                    try
                    {
                        if (item.Type == WebSocketMessageType.Text)
                            await connection.SendTextAsync(item.Payload, token).ConfigureAwait(false);
                        else
                            await connection.SendBinaryAsync(item.Payload, token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is WebSocketClosedException or IOException or ObjectDisposedException)
                    {
                        // The connection ended under us: the message stays first in line for the next one.
                        await connection.Completion.ConfigureAwait(false);
                        continue;
                    }
                    if (Remove(item)) item.Done.TrySetResult();
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private bool IsQueued(QueuedSend item)
    {
        lock (_queue) return _queue.Contains(item);
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
    /// and sends still queued fail.
    /// </summary>
    public async Task CloseAsync(CloseStatus status = CloseStatus.NormalClosure, string? reason = null)
    {
        var connection = _current;
        _stop.Cancel();
        if (connection is not null)
        {
            try
            {
                await connection.CloseAsync(status, reason).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
            {
            }
        }
        FailQueue(new WebSocketClosedException(WebSocketState.Closed, status, "the client was closed"));
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
