using Duplex.Protocol;

namespace Duplex;

/// <summary>What a full send queue does with one more message.</summary>
public enum QueueFullPolicy
{
    /// <summary>The new send fails with <see cref="SendQueueFullException"/>.</summary>
    Fail,
    /// <summary>The oldest queued message is dropped (its send fails) to make room.</summary>
    DropOldest,
    /// <summary>The new message is dropped (its send fails).</summary>
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

    /// <summary>Most messages held while disconnected. Default 1024.</summary>
    public int MaxQueuedMessages { get; set; } = 1024;

    /// <summary>Most payload bytes held while disconnected. Default 4 MiB.</summary>
    public long MaxQueuedBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// What a send does when the queue already holds <see cref="MaxQueuedMessages"/> messages or
    /// <see cref="MaxQueuedBytes"/> bytes: fail, or drop the oldest queued messages to make room.
    /// Default <see cref="Duplex.QueueFullPolicy.Fail"/>.
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
