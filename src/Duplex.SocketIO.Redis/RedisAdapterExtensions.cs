using Duplex.SocketIO.Adapters;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Duplex.SocketIO.Redis;

/// <summary>Joins a <see cref="SocketIOServer"/> to a Redis cluster of Socket.IO servers.</summary>
public static class RedisAdapterExtensions
{
    /// <summary>
    /// Joins this server to every server on the same Redis (Duplex or Node with
    /// <c>@socket.io/redis-adapter</c>): rooms, broadcasts, fetches and server-side emits span them all
    /// (the reference's <c>io.adapter(createAdapter(pub, sub))</c>). Give each server its own
    /// <paramref name="redis"/> connection: servers are counted by their subscriptions. Make it with
    /// <c>AbortOnConnectFail = false</c> so the server starts, and keeps serving its own clients, while
    /// Redis is away. Outages are logged and counted (<c>duplex.socketio.redis.errors</c>, kind "connection").
    /// </summary>
    public static SocketIOServer UseRedisAdapter(this SocketIOServer io, IConnectionMultiplexer redis, Action<RedisAdapterOptions>? configure = null, ILoggerFactory? loggerFactory = null)
    {
        var options = new RedisAdapterOptions();
        configure?.Invoke(options);
        var logger = (ILogger?)loggerFactory?.CreateLogger("Duplex.SocketIO.Redis") ?? NullLogger.Instance;
        redis.ConnectionFailed += (_, e) =>
        {
            RedisAdapterMetrics.Error("connection");
            logger.LogWarning("Socket.IO Redis adapter: Redis connection lost ({FailureType}); serving this server's clients only until it is back", e.FailureType);
        };
        redis.ConnectionRestored += (_, e) => logger.LogInformation("Socket.IO Redis adapter: Redis connection restored ({ConnectionType})", e.ConnectionType);
        return io.UseAdapter(ns => new RedisAdapter(ns, redis, options));
    }

    /// <summary>A factory for <see cref="SocketIOServer.UseAdapter"/> (without the outage logging of <see cref="UseRedisAdapter"/>).</summary>
    public static Func<SocketIONamespace, SocketIOAdapter> CreateRedisAdapter(IConnectionMultiplexer redis, RedisAdapterOptions? options = null) =>
        ns => new RedisAdapter(ns, redis, options);

    /// <summary>
    /// Joins this server to every server on the same Redis stream (Duplex or Node with
    /// <c>@socket.io/redis-streams-adapter</c>): broadcasts, joins, leaves and disconnects are stream entries every
    /// server reads from its last id, so nothing is lost while Redis is briefly away (up to
    /// <see cref="RedisStreamsAdapterOptions.MaxLength"/>); requests and answers use pub/sub; with connection state
    /// recovery on, sessions are kept in Redis so a client recovers on any server (the reference's
    /// <c>io.adapter(createAdapter(redisClient))</c>). Give each server its own <paramref name="redis"/> connection
    /// (servers are counted by their subscriptions), made with <c>AbortOnConnectFail = false</c>.
    /// </summary>
    public static SocketIOServer UseRedisStreamsAdapter(this SocketIOServer io, IConnectionMultiplexer redis, Action<RedisStreamsAdapterOptions>? configure = null, ILoggerFactory? loggerFactory = null)
    {
        var options = new RedisStreamsAdapterOptions();
        configure?.Invoke(options);
        var logger = (ILogger?)(loggerFactory ?? io.LoggerFactory)?.CreateLogger(RedisAdapter.LogCategory) ?? NullLogger.Instance;
        return io.UseAdapter(CreateRedisStreamsAdapter(redis, options, logger));
    }

    /// <summary>
    /// A factory for <see cref="SocketIOServer.UseAdapter"/>: every namespace it makes an adapter for shares one
    /// reader and one writer of the stream, as the reference's <c>createAdapter</c> does.
    /// </summary>
    public static Func<SocketIONamespace, SocketIOAdapter> CreateRedisStreamsAdapter(IConnectionMultiplexer redis, RedisStreamsAdapterOptions? options = null) =>
        CreateRedisStreamsAdapter(redis, options ?? new RedisStreamsAdapterOptions(), null);

    private static Func<SocketIONamespace, SocketIOAdapter> CreateRedisStreamsAdapter(IConnectionMultiplexer redis, RedisStreamsAdapterOptions options, ILogger? logger)
    {
        RedisStream? stream = null;
        object gate = new();
        return ns =>
        {
            lock (gate)
                stream ??= new RedisStream(redis, options, logger ?? ns.Server.LoggerFactory?.CreateLogger(RedisAdapter.LogCategory) ?? NullLogger.Instance);
            return new RedisStreamsAdapter(ns, redis, stream, options);
        };
    }
}
