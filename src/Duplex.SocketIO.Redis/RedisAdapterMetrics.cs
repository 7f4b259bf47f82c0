using System.Diagnostics.Metrics;

namespace Duplex.SocketIO.Redis;

/// <summary>The Redis adapter's instruments, on the "Duplex" meter.</summary>
internal static class RedisAdapterMetrics
{
    public static readonly Counter<long> Published = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.published",
        description: "Messages (broadcasts, requests, responses) the Socket.IO Redis adapter published");

    public static readonly Counter<long> Received = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.received",
        description: "Messages from other servers the Socket.IO Redis adapter acted on");

    /// <summary>Tagged <c>kind</c>: connection (Redis lost), publish (a message not published), request (a cluster request that failed), malformed (a message that could not be read).</summary>
    public static readonly Counter<long> Errors = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.errors",
        description: "Redis outages, lost publishes, failed requests and malformed messages of the Socket.IO Redis adapter");

    public static void Error(string kind) => Errors.Add(1, new KeyValuePair<string, object?>("kind", kind));
}
