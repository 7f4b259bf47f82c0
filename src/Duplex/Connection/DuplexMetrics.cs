using System.Diagnostics.Metrics;

namespace Duplex;

/// <summary>Counters under the meter "Duplex", readable by dotnet-counters and OpenTelemetry.</summary>
public static class DuplexMetrics
{
    /// <summary>The meter's name, <c>"Duplex"</c>: what to enable in dotnet-counters or an OpenTelemetry meter provider.</summary>
    public const string MeterName = "Duplex";
    /// <summary>The meter itself, for Duplex packages that add instruments of their own.</summary>
    public static Meter Meter { get; } = new(MeterName);

    internal static readonly UpDownCounter<long> ActiveConnections = Meter.CreateUpDownCounter<long>("duplex.connections.active", description: "Open WebSocket connections");
    internal static readonly Counter<long> ConnectionsOpened = Meter.CreateCounter<long>("duplex.connections.opened");
    internal static readonly Counter<long> ConnectionsClosed = Meter.CreateCounter<long>("duplex.connections.closed", description: "Closed connections, by close code");
    internal static readonly Counter<long> MessagesReceived = Meter.CreateCounter<long>("duplex.messages.received");
    internal static readonly Counter<long> MessagesSent = Meter.CreateCounter<long>("duplex.messages.sent");
    internal static readonly Counter<long> CompressionDeclined = Meter.CreateCounter<long>("duplex.compression.declined", description: "Handshakes answered without permessage-deflate because the compression memory budget was spent");
    internal static readonly Counter<long> ProtocolErrors = Meter.CreateCounter<long>("duplex.protocol.errors", description: "Connections failed for bad input, by close code");
    internal static readonly Counter<long> ConnectionsRetired = Meter.CreateCounter<long>("duplex.connections.retired", description: "Connections closed by IdleTimeout or MaxLifetime (tag reason)");
    internal static readonly Counter<long> HeartbeatTimeouts = Meter.CreateCounter<long>("duplex.heartbeat.timeouts", description: "Connections dropped because the peer stopped answering keep-alive pings");
    internal static readonly Counter<long> QueueDrops = Meter.CreateCounter<long>("duplex.client.queue.dropped", description: "Sends dropped or refused because the reconnect queue was full");
    internal static readonly Counter<long> RateLimited = Meter.CreateCounter<long>("duplex.ratelimit.hits", description: "Messages over a connection's receive rate limit, by policy");
    internal static readonly Counter<long> SlowConsumers = Meter.CreateCounter<long>("duplex.broadcast.slow_consumer", description: "Broadcast deliveries skipped (or connections closed) because the recipient was over its buffer limit");
    internal static readonly Counter<long> HandshakesAccepted = Meter.CreateCounter<long>("duplex.handshake.accepted", description: "Upgrades completed (server) and connections opened (client)");
    internal static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("duplex.bytes.received", unit: "By", description: "Wire bytes read after the handshake");
    internal static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("duplex.bytes.sent", unit: "By", description: "Wire bytes written after the handshake");
    internal static readonly Histogram<double> CompressionRatio = Meter.CreateHistogram<double>("duplex.compression.ratio", description: "Compressed size / original size of each compressed message sent");
    internal static readonly Histogram<double> PingRoundTrip = Meter.CreateHistogram<double>("duplex.ping.rtt", unit: "ms", description: "Round-trip time of answered pings");
    internal static readonly Counter<long> HandshakeRejections = Meter.CreateCounter<long>("duplex.handshake.rejected", description: "Upgrade requests refused, by HTTP status");
}
