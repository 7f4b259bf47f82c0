using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Duplex;

/// <summary>
/// TCP_USER_TIMEOUT (Linux, RFC 5482): how long sent data may stay unacknowledged before the kernel
/// aborts the connection. The heartbeat cannot see a send stuck on a dead peer with a full window
/// (its ping waits behind it); the kernel then ends it after the same time the heartbeat allows.
/// </summary>
internal static class TcpUserTimeout
{
    internal const int Level = 6;   // IPPROTO_TCP
    internal const int Option = 18; // TCP_USER_TIMEOUT in linux/tcp.h

    /// <summary>
    /// The timeout in milliseconds for a connection with these options: interval + timeout when the
    /// heartbeat runs with a timeout, null otherwise (no timeout, or no heartbeat).
    /// </summary>
    internal static int? For(WebSocketConnectionOptions options)
    {
        if (!options.HasKeepAlive || !options.HasKeepAliveTimeout) return null;
        double ms = Math.Ceiling((options.KeepAliveInterval + options.KeepAliveTimeout).TotalMilliseconds);
        return (int)Math.Min(ms, int.MaxValue);
    }

    /// <summary>Sets the timeout on a TCP socket on Linux; elsewhere, or when it fails, does nothing (a debug line).</summary>
    internal static void Apply(Socket? socket, WebSocketConnectionOptions options, ILogger logger)
    {
        if (socket is null || !OperatingSystem.IsLinux() || socket.ProtocolType != ProtocolType.Tcp || For(options) is not int ms) return;
        try
        {
            Span<byte> value = stackalloc byte[sizeof(int)];
            BitConverter.TryWriteBytes(value, ms); // an int in the machine's byte order, as setsockopt takes it
            socket.SetRawSocketOption(Level, Option, value);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            logger.LogDebug(DuplexLogEvents.TransportError, ex, "Could not set TCP_USER_TIMEOUT to {Milliseconds} ms", ms);
        }
    }
}
