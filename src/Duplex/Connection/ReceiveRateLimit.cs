using System.Threading.RateLimiting;

namespace Duplex;

/// <summary>What happens when a peer sends faster than its receive rate limit.</summary>
public enum RateLimitPolicy
{
    /// <summary>Fail the connection with 1008 Policy Violation.</summary>
    Close,
    /// <summary>Stop reading until the peer is back under its rate: TCP then slows the peer down.</summary>
    Slow,
}

/// <summary>
/// A per-connection limit on what the peer may send: messages and bytes per second, each a token
/// bucket (System.Threading.RateLimiting) that allows bursts up to one second's worth.
/// </summary>
public sealed class ReceiveRateLimit
{
    /// <summary>Messages per second; null for no message limit.</summary>
    public int? MessagesPerSecond { get; set; }

    /// <summary>Payload bytes per second; null for no byte limit.</summary>
    public int? BytesPerSecond { get; set; }

    /// <summary>What happens to a message over either limit. Default <see cref="RateLimitPolicy.Close"/> (1008).</summary>
    public RateLimitPolicy Policy { get; set; } = RateLimitPolicy.Close;

    internal ReceiveRateLimit Clone() => (ReceiveRateLimit)MemberwiseClone();

    internal bool IsSet => MessagesPerSecond is not null || BytesPerSecond is not null;

    internal static TokenBucketRateLimiter? Bucket(int? perSecond) => perSecond is int rate and > 0
        ? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = rate,
            TokensPerPeriod = Math.Max(1, rate / 10),
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        })
        : null;
}
