using System.Collections.Concurrent;
using System.Net;
using System.Threading.RateLimiting;

namespace Duplex.Server;

/// <summary>Limits applied before the upgrade, answered with an HTTP status instead of a WebSocket.</summary>
public sealed class HandshakeLimitOptions
{
    /// <summary>
    /// Most open WebSocket connections on the whole server (all endpoints, counted by the registry);
    /// past it upgrades are answered 503 with Retry-After. Null: no cap.
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>New connections per second from one remote address (token bucket); past it 429. Null: no limit.</summary>
    public int? ConnectionsPerSecondPerAddress { get; set; }

    /// <summary>Open connections from one remote address to this endpoint; past it 429. Null: no limit.</summary>
    public int? MaxConnectionsPerAddress { get; set; }

    /// <summary>The Retry-After sent with 429 and 503, in seconds. Default 1.</summary>
    public int RetryAfterSeconds { get; set; } = 1;
}

/// <summary>The bookkeeping behind <see cref="HandshakeLimitOptions"/> for one endpoint.</summary>
internal sealed class HandshakeLimiter
{
    private readonly HandshakeLimitOptions _options;
    private readonly PartitionedRateLimiter<IPAddress>? _rate;
    private readonly ConcurrentDictionary<IPAddress, int> _open = new();

    public HandshakeLimiter(HandshakeLimitOptions options)
    {
        _options = options;
        if (options.ConnectionsPerSecondPerAddress is int perSecond and > 0)
        {
            _rate = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ =>
                new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perSecond,
                    TokensPerPeriod = perSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
        }
    }

    public bool IsActive => _options.MaxConnections is not null || _rate is not null || _options.MaxConnectionsPerAddress is not null;

    /// <summary>Null to go on (and the caller must <see cref="Release"/> once the connection ends), or the refusal.</summary>
    public HandshakeDecision? TryEnter(IPAddress address, int openConnections)
    {
        if (_options.MaxConnections is int max && openConnections >= max)
            return new HandshakeDecision(503, $"the server is at its limit of {max} connections");
        if (_rate is not null)
        {
            using var lease = _rate.AttemptAcquire(address);
            if (!lease.IsAcquired)
                return new HandshakeDecision(429, $"more than {_options.ConnectionsPerSecondPerAddress} new connections per second from {address}");
        }
        if (_options.MaxConnectionsPerAddress is int perAddress)
        {
            int now = _open.AddOrUpdate(address, 1, static (_, n) => n + 1);
            if (now > perAddress)
            {
                Release(address);
                return new HandshakeDecision(429, $"more than {perAddress} open connections from {address}");
            }
        }
        return null;
    }

    public void Release(IPAddress address)
    {
        if (_options.MaxConnectionsPerAddress is null) return;
        while (_open.TryGetValue(address, out int n))
        {
            if (n <= 1 ? _open.TryRemove(new KeyValuePair<IPAddress, int>(address, n)) : _open.TryUpdate(address, n - 1, n)) return;
        }
    }
}
