using Duplex.Protocol;

namespace Duplex;

/// <summary>
/// What a full send queue does with one more message. The names mean what they mean for
/// <see cref="System.Threading.Channels.BoundedChannelFullMode"/>: "newest" and "oldest" are messages
/// already queued. Under every policy a message that would not fit even in an empty queue (more than
/// <see cref="ReconnectOptions.MaxQueuedBytes"/>) fails at once and drops nothing, and the message
/// being written at the moment is no longer queued, so it is never dropped.
/// </summary>
public enum QueueFullPolicy
{
    /// <summary>
    /// The new send's task faults with <see cref="SendQueueFullException"/>; the queued messages stay
    /// as they are.
    /// </summary>
    Fail,
    /// <summary>
    /// The oldest queued messages, as many as it takes to make room, are dropped (their tasks fault with
    /// <see cref="SendQueueFullException"/>); the new message is queued at the back.
    /// </summary>
    DropOldest,
    /// <summary>
    /// The newest queued messages (the last queued before this one), as many as it takes to make room,
    /// are dropped (their tasks fault with <see cref="SendQueueFullException"/>); the new message is
    /// queued in their place at the back, so the latest state always gets through.
    /// </summary>
    DropNewest,
}

/// <summary>Reconnection, backoff and the queue that holds sends while disconnected.</summary>
public sealed class ReconnectOptions
{
    /// <summary>Upper bound of the first retry's delay. Default 500 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Largest delay between attempts. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Growth of the delay bound per failed attempt. Default 2.</summary>
    public double Factor { get; set; } = 2;

    /// <summary>
    /// Attempts in a row before giving up (the first connect counts); null retries forever. Default null.
    /// </summary>
    public int? MaxAttempts { get; set; }

    /// <summary>
    /// Client options for each attempt, so headers and credentials (a refreshed token) are produced
    /// anew every time. The argument is the attempt number, 1 for the first in a row. When null,
    /// <see cref="Client"/> is used for every attempt.
    /// </summary>
    public Func<int, CancellationToken, ValueTask<WebSocketClientOptions>>? ConfigureAttempt { get; set; }

    /// <summary>
    /// Client options for every attempt when <see cref="ConfigureAttempt"/> is null. Default: new
    /// <see cref="WebSocketClientOptions"/> (permessage-deflate offered, 10 s connect timeout).
    /// </summary>
    public WebSocketClientOptions Client { get; set; } = new();

    /// <summary>
    /// Whether an ended connection is worth reconnecting. Default: after 1001, 1006, 1011, 1012, 1013
    /// and 1014 (the server went away, the network failed, or the server asks to come back later),
    /// not after 1000/1005 (a normal close) nor after a code that would only repeat (1002, 1003, 1007–1010,
    /// application codes).
    /// </summary>
    public Func<CloseStatus?, bool> ShouldReconnect { get; set; } = status => status is null
        or CloseStatus.GoingAway or CloseStatus.AbnormalClosure or CloseStatus.InternalServerError
        or CloseStatus.ServiceRestart or CloseStatus.TryAgainLater or CloseStatus.BadGateway;

    /// <summary>
    /// Whether a failed connect attempt is worth another. When it returns false the client stops for
    /// good: <see cref="ReconnectState.Disconnected"/> is raised with the error, the task of
    /// <see cref="ReconnectingWebSocket.StartAsync"/> (if still pending) faults with it, and queued sends
    /// fail. The argument is what the attempt threw: from <see cref="WebSocketClient.ConnectAsync"/> or
    /// from <see cref="ConfigureAttempt"/>. Default <see cref="IsTransient"/>.
    /// </summary>
    public Func<Exception, bool> ShouldRetry { get; set; } = IsTransient;

    /// <summary>
    /// The default <see cref="ShouldRetry"/>: false for failures that would only repeat, true for the rest.
    /// A handshake answered with a 4xx status is a refusal the same request would only meet again
    /// (RFC 9110 §15.5: bad path, missing or rejected credentials, forbidden origin), except
    /// 408 Request Timeout and 429 Too Many Requests, which ask to come back later (RFC 9110 §15.5.9,
    /// RFC 6585 §4); an <see cref="ArgumentException"/> is a bad URI or header, wrong on every attempt. Network errors, TLS failures, timeouts
    /// (<see cref="TimeoutException"/>), 5xx and every other handshake failure are retried.
    /// </summary>
    /// <param name="error">What the connect attempt threw.</param>
    public static bool IsTransient(Exception error) => error switch
    {
        WebSocketHandshakeException { Check: HandshakeCheck.Status, StatusCode: >= 400 and < 500 and not 408 and not 429 } => false,
        ArgumentException => false,
        _ => true,
    };

    /// <summary>Most messages waiting in the send queue (not counting the one being written). Default 1024.</summary>
    public int MaxQueuedMessages { get; set; } = 1024;

    /// <summary>Most payload bytes waiting in the send queue (not counting the message being written). Default 4 MiB.</summary>
    public long MaxQueuedBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// What a send does when the queue already holds <see cref="MaxQueuedMessages"/> messages or
    /// <see cref="MaxQueuedBytes"/> bytes: fail the new send (<see cref="Duplex.QueueFullPolicy.Fail"/>),
    /// or drop queued messages to make room for it, the oldest (<see cref="Duplex.QueueFullPolicy.DropOldest"/>)
    /// or the newest (<see cref="Duplex.QueueFullPolicy.DropNewest"/>). Default <see cref="Duplex.QueueFullPolicy.Fail"/>.
    /// </summary>
    public QueueFullPolicy QueueFullPolicy { get; set; } = QueueFullPolicy.Fail;

    /// <summary>A queued message older than this is dropped (its send fails). Null keeps them. Default null.</summary>
    public TimeSpan? MessageTimeToLive { get; set; }

    /// <summary>The delay before retry <paramref name="attempt"/> (2 = the first retry): full jitter.</summary>
    internal TimeSpan DelayBefore(int attempt)
    {
        // Exponential bound, then a uniformly random delay below it ("full jitter"), so that many
        // clients cut off together do not come back together.
        double bound = Math.Min(MaxDelay.TotalMilliseconds, InitialDelay.TotalMilliseconds * Math.Pow(Factor, Math.Max(0, attempt - 2)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * bound);
    }
}

/// <summary>The send queue was full and <see cref="QueueFullPolicy"/> dropped this message.</summary>
public sealed class SendQueueFullException(string message) : InvalidOperationException(message);

/// <summary>A queued message outlived <see cref="ReconnectOptions.MessageTimeToLive"/> before it could be sent.</summary>
public sealed class MessageExpiredException(string message) : TimeoutException(message);
