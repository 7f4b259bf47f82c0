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
    /// The default <see cref="ShouldRetry"/>: false (fatal) for failures that would only repeat, true
    /// (transient) for the rest. Fatal: a handshake answered with a 4xx status — 400 Bad Request,
    /// 401 Unauthorized, 403 Forbidden, 404 Not Found, 426 Upgrade Required and every other 4xx — a
    /// refusal the same request would only meet again (RFC 9110 §15.5), except 408 Request Timeout and
    /// 429 Too Many Requests, which ask to come back later (RFC 9110 §15.5.9, RFC 6585 §4); and an
    /// <see cref="ArgumentException"/>, a bad URI or header, wrong on every attempt. Transient: network
    /// errors, TLS failures, timeouts (<see cref="TimeoutException"/>), 5xx, 408, 429 and every other
    /// handshake failure.
    /// </summary>
    /// <param name="error">What the connect attempt threw.</param>
    public static bool IsTransient(Exception error) => error switch
    {
        WebSocketHandshakeException { Check: HandshakeCheck.Status, StatusCode: >= 400 and < 500 and not 408 and not 429 } => false,
        ArgumentException => false,
        _ => true,
    };

    /// <summary>
    /// Longest wait a handshake's <c>Retry-After</c> can impose. A 429 or 503 answer with
    /// <c>Retry-After</c> (seconds, or an HTTP date; RFC 9110 §10.2.3) makes the next attempt wait at
    /// least that long instead of only the backoff's delay (the longer of the two), but never longer
    /// than this, so a wrong or hostile header cannot park the client for hours. Default 5 minutes.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After a server closes an open connection with 1001 (Going Away) or 1012 (Service Restart), the
    /// reconnect waits a uniformly random delay in [0, RestartJitter] instead of the backoff's first
    /// delay, so that the clients of a restarting server come back spread over that window rather than
    /// all at once, and mostly after the new instance is listening. Default 5 s: a rolling restart
    /// typically takes seconds, and 5 s spreads 10,000 clients to about 2,000 handshakes a second
    /// (the default backoff's 0.5 s would bring them back ten times as fast). Other ends (1006, 1011,
    /// 1013, 1014) keep the backoff.
    /// </summary>
    public TimeSpan RestartJitter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The wait a failed attempt's <c>Retry-After</c> asks for: only on a 429 or 503 handshake answer,
    /// as whole seconds or an HTTP date (relative to <paramref name="now"/>, a past date is zero),
    /// at most <paramref name="max"/>; null when there is none or it does not parse.
    /// </summary>
    internal static TimeSpan? RetryAfter(Exception error, DateTimeOffset now, TimeSpan max)
    {
        if (error is not WebSocketHandshakeException { Check: HandshakeCheck.Status, StatusCode: 429 or 503 } refused
            || !refused.Headers.TryGetValue("Retry-After", out var value))
            return null;
        if (max < TimeSpan.Zero) max = TimeSpan.Zero;
        value = value.Trim();
        TimeSpan wait;
        if (value.Length > 0 && value.All(char.IsAsciiDigit))
        {
            // Too many digits for a long is still "a very long time": the cap applies.
            wait = long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seconds)
                   && seconds <= (long)max.TotalSeconds + 1
                ? TimeSpan.FromSeconds(seconds)
                : max;
        }
        else if (DateTimeOffset.TryParseExact(value, "r", System.Globalization.CultureInfo.InvariantCulture,
                     System.Globalization.DateTimeStyles.AssumeUniversal, out var date))
        {
            wait = date - now;
            if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;
        }
        else
        {
            return null;
        }
        return wait > max ? max : wait;
    }

    /// <summary>The delay before reconnecting after a server's 1001 or 1012: uniform in [0, <see cref="RestartJitter"/>].</summary>
    internal TimeSpan RestartDelay() =>
        TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Max(0, RestartJitter.TotalMilliseconds));

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
