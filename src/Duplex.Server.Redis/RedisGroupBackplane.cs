using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Duplex.Server.Redis;

/// <summary>Where <see cref="RedisGroupBackplane"/> finds Redis, and which channels its cluster shares.</summary>
public sealed class RedisBackplaneOptions
{
    /// <summary>A StackExchange.Redis configuration string, e.g. "localhost:6379".</summary>
    public string Configuration { get; set; } = "localhost:6379";

    /// <summary>Prefix of the pub/sub channels; nodes that share it form one cluster. Default "duplex:".</summary>
    public string ChannelPrefix { get; set; } = "duplex:";
}

/// <summary>
/// Group broadcasts across processes through Redis pub/sub. Each message goes to the channel
/// <c>{prefix}group:{name}</c> as one byte of type, sixteen bytes of the sending node's id (so a node
/// ignores its own messages), then the payload. Redis being down never takes a server down: its own
/// clients are still served, publishes are dropped, logged and counted, and StackExchange.Redis
/// reconnects by itself; what was published during the outage is lost, as pub/sub has no memory.
/// </summary>
public sealed class RedisGroupBackplane : IGroupBackplane, IAsyncDisposable
{
    private static readonly Counter<long> Published = DuplexMetrics.Meter.CreateCounter<long>("duplex.backplane.published");
    private static readonly Counter<long> Received = DuplexMetrics.Meter.CreateCounter<long>("duplex.backplane.received");
    private static readonly Counter<long> Errors = DuplexMetrics.Meter.CreateCounter<long>("duplex.backplane.errors", description: "Publishes lost and connection failures while Redis was unreachable");

    private readonly RedisBackplaneOptions _options;
    private readonly ILogger _logger;
    private readonly byte[] _nodeId = Guid.NewGuid().ToByteArray();
    private readonly ConfigurationOptions _config;
    private readonly Lock _connectLock = new();
    private Task<ConnectionMultiplexer>? _connecting;
    private volatile bool _disposed;

    /// <summary>
    /// A backplane that connects to Redis on first use (the first publish or <see cref="StartAsync"/>),
    /// without waiting for Redis to be reachable.
    /// </summary>
    /// <param name="options">The Redis configuration, parsed here, and the channel prefix.</param>
    /// <param name="logger">Receives connection losses and restorations, and lost publishes; null logs nothing.</param>
    /// <exception cref="ArgumentException">The configuration string is not one StackExchange.Redis accepts: a
    /// mistake to fix, not an outage to ride out, so it fails the server's startup instead of every publish.</exception>
    public RedisGroupBackplane(RedisBackplaneOptions options, ILogger<RedisGroupBackplane>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        try
        {
            _config = ConfigurationOptions.Parse(options.Configuration);
        }
        catch (Exception ex) when (ex is ArgumentException or RedisException or FormatException)
        {
            // The string itself stays out of the log and the message: it may hold a password.
            _logger.LogError(ex, "backplane: the Redis configuration string is not valid: {Reason}", ex.Message);
            throw new ArgumentException(
                $"RedisBackplaneOptions.Configuration is not a valid StackExchange.Redis configuration string: {ex.Message}", nameof(options), ex);
        }
        // Start even when Redis is not there yet, and keep trying in the background.
        _config.AbortOnConnectFail = false;
        // A broadcast made while Redis is away is lost for the other nodes (and counted), not queued and
        // delivered late, out of its moment, when Redis returns.
        _config.BacklogPolicy = BacklogPolicy.FailFast;
    }

    /// <summary>
    /// The multiplexer, connecting on first use. A connect that failed is not kept: the next use tries
    /// again, so one failure does not turn into every later publish failing for the process's life.
    /// </summary>
    private Task<ConnectionMultiplexer> ConnectionAsync()
    {
        lock (_connectLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connecting is null || _connecting.IsFaulted || _connecting.IsCanceled) _connecting = ConnectAsync();
            return _connecting;
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var redis = await ConnectionMultiplexer.ConnectAsync(_config).ConfigureAwait(false);
        redis.ConnectionFailed += (_, e) =>
        {
            Errors.Add(1, new KeyValuePair<string, object?>("kind", "connection"));
            _logger.LogWarning("backplane: Redis connection lost ({FailureType}); serving local clients only until it is back", e.FailureType);
        };
        redis.ConnectionRestored += (_, _) => _logger.LogInformation("backplane: Redis connection restored");
        return redis;
    }

    private RedisChannel Channel(string group) => RedisChannel.Literal(_options.ChannelPrefix + "group:" + group);

    /// <summary>
    /// Publishes a copy of <paramref name="payload"/> to the group's channel, for its members on the other
    /// nodes; completes once the publish is issued, without waiting for Redis's answer. While Redis is
    /// unreachable the broadcast is dropped, logged and counted (<c>duplex.backplane.errors</c>), not thrown.
    /// <paramref name="cancellationToken"/> is not used.
    /// </summary>
    public async Task PublishAsync(string group, ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default)
    {
        var message = new byte[1 + 16 + payload.Length];
        message[0] = type == WebSocketMessageType.Text ? (byte)'t' : (byte)'b';
        _nodeId.CopyTo(message, 1);
        payload.Span.CopyTo(message.AsSpan(17));
        Task publish;
        try
        {
            var redis = await ConnectionAsync().ConfigureAwait(false);
            // Handed to the multiplexer, which writes commands in the order they are issued, without
            // waiting for Redis's answer: a publisher's next broadcast need not wait a round trip
            // (measured: cross-node broadcast was bound by it). The outcome is still counted.
            publish = redis.GetSubscriber().PublishAsync(Channel(group), message);
        }
        catch (Exception ex)
        {
            // IGroupBackplane: a broadcast never fails for the backplane's sake. Whatever kept this one
            // from Redis (an outage, a failed connect, a disposed backplane) is logged and counted.
            NotPublished(group, ex);
            return;
        }
        if (publish.IsCompleted) Observe(publish, group);
        else _ = publish.ContinueWith(static (t, state) =>
        {
            var (self, group) = ((RedisGroupBackplane, string))state!;
            self.Observe(t, group);
        }, (this, group), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Observe(Task publish, string group)
    {
        if (publish.IsCompletedSuccessfully) Published.Add(1);
        else NotPublished(group, publish.Exception?.GetBaseException() ?? new TaskCanceledException());
    }

    private void NotPublished(string group, Exception ex)
    {
        Errors.Add(1, new KeyValuePair<string, object?>("kind", "publish"));
        _logger.LogWarning("backplane: broadcast to group {Group} not published: {Reason}", group, ex.Message);
    }

    /// <summary>
    /// Subscribes in the background: a node starts, and serves its own clients, before Redis is reachable
    /// (or before its connection is up). The subscription is retried with backoff, logged and counted,
    /// until it holds; StackExchange.Redis keeps it across later reconnections.
    /// </summary>
    public Task StartAsync(Func<string, ReadOnlyMemory<byte>, WebSocketMessageType, Task> deliver, CancellationToken cancellationToken = default)
    {
        _ = SubscribeUntilDoneAsync(deliver);
        return Task.CompletedTask;
    }

    private async Task SubscribeUntilDoneAsync(Func<string, ReadOnlyMemory<byte>, WebSocketMessageType, Task> deliver)
    {
        string prefix = _options.ChannelPrefix + "group:";
        ChannelMessageQueue? queue = null;
        for (int attempt = 0; queue is null && !_disposed; attempt++)
        {
            try
            {
                var redis = await ConnectionAsync().ConfigureAwait(false);
                // A message queue, not a handler: StackExchange.Redis may run handlers concurrently, which
                // reordered a publisher's broadcasts on the other nodes (seen with `duplex bench broadcast
                // --publish-to`); the queue hands them over one at a time, in Redis's order.
                queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Pattern(prefix + "*")).ConfigureAwait(false);
            }
            catch (Exception ex) when (_disposed && ex is ObjectDisposedException or RedisException)
            {
                return;
            }
            catch (Exception ex)
            {
                // Nobody awaits this loop: every failure is logged here, and tried again, never left unobserved.
                Errors.Add(1, new KeyValuePair<string, object?>("kind", "connection"));
                _logger.LogWarning("backplane: cannot subscribe yet ({Reason}); retrying", ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6)))).ConfigureAwait(false);
            }
        }
        queue?.OnMessage(received =>
        {
            var channel = received.Channel;
            byte[]? message = received.Message;
            if (message is null || message.Length < 17) return;
            if (message.AsSpan(1, 16).SequenceEqual(_nodeId)) return; // our own broadcast, already delivered locally
            var type = message[0] == (byte)'t' ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
            Received.Add(1);
            var group = channel.ToString()![prefix.Length..];
            _ = deliver(group, message.AsMemory(17), type);
        });
    }

    /// <summary>
    /// Closes the Redis connection, if one was made; the subscription ends with it. Never throws: a
    /// connection that failed, or fails to close, is logged.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task<ConnectionMultiplexer>? connecting;
        lock (_connectLock)
        {
            if (_disposed) return;
            _disposed = true;
            connecting = _connecting;
        }
        if (connecting is null) return;
        try
        {
            await (await connecting.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogWarning("backplane: closing the Redis connection failed: {Reason}", ex.Message);
        }
    }
}

/// <summary>Registers the Redis backplane with Duplex.Server's services.</summary>
public static class RedisBackplaneServiceCollectionExtensions
{
    /// <summary>Makes every group broadcast of this server span all servers on the same Redis.</summary>
    /// <remarks>
    /// The registry that uses it comes from <c>AddDuplex()</c>, which is needed as well: <c>MapWebSocket</c>
    /// throws without it. The backplane is made, and its configuration string parsed, when the registry
    /// is first resolved (at <c>MapWebSocket</c>): an invalid one fails the startup.
    /// </remarks>
    public static IServiceCollection AddDuplexRedisBackplane(this IServiceCollection services, Action<RedisBackplaneOptions> configure)
    {
        var options = new RedisBackplaneOptions();
        configure(options);
        services.AddSingleton(options);
        services.AddSingleton<IGroupBackplane, RedisGroupBackplane>();
        return services;
    }
}
