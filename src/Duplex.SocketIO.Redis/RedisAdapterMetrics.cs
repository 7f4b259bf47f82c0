using System.Diagnostics.Metrics;

namespace Duplex.SocketIO.Redis;

/// <summary>The Redis adapter's instruments, on the "Duplex" meter.</summary>
internal static class RedisAdapterMetrics
{
    public static readonly Counter<long> Published = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.published",
        description: "Messages (broadcasts, requests, responses) the Socket.IO Redis adapter published");

    public static readonly Counter<long> Received = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.received",
        description: "Messages from other servers the Socket.IO Redis adapter acted on");

    public static readonly Counter<long> StreamHeld = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.stream.held",
        description: "Stream entries the Socket.IO Redis streams adapter held while Redis was away, to add once it is back");

    /// <summary>Tagged <c>kind</c>: connection (Redis lost), publish (a message not published), request (a cluster request that failed), malformed (a message that could not be read); for the streams adapter also buffer-full (an entry dropped: too many waiting), stream-trimmed (entries trimmed before this node read them), session (a session not stored).</summary>
    public static readonly Counter<long> Errors = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.redis.errors",
        description: "Redis outages, lost publishes, failed requests and malformed messages of the Socket.IO Redis adapter");

    public static void Error(string kind) => Errors.Add(1, new KeyValuePair<string, object?>("kind", kind));
}
