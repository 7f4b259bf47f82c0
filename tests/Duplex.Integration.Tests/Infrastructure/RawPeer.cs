using System.Net.Sockets;
using System.Text;
using Duplex.Protocol;

namespace Duplex.Integration.Tests.Infrastructure;

/// <summary>
/// Both ends of an opening handshake done by hand over a raw socket, for tests whose peer must
/// misbehave in ways no real library would (go silent, never read, send hostile frames).
/// </summary>
internal static class RawPeer
{
    /// <summary>Connects and upgrades as a client; returns the stream (its socket is owned by it) and the response head.</summary>
    public static async Task<(NetworkStream Stream, string ResponseHead)> ConnectAsync(Uri ws, string? extraHeaders = null, int receiveBufferSize = 0)
    {
        var tcp = new TcpClient();
        if (receiveBufferSize > 0) tcp.ReceiveBufferSize = receiveBufferSize;
        await tcp.ConnectAsync(ws.Host, ws.Port);
        var stream = new NetworkStream(tcp.Client, ownsSocket: true);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {ws.PathAndQuery} HTTP/1.1\r\nHost: {ws.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n"));
        return (stream, await ReadHeadAsync(stream));
    }

    /// <summary>Accepts one client and answers its upgrade with a valid 101; returns the stream.</summary>
    public static async Task<NetworkStream> AcceptAsync(TcpListener listener)
    {
        var socket = await listener.AcceptSocketAsync();
        var stream = new NetworkStream(socket, ownsSocket: true);
        var head = await ReadHeadAsync(stream);
        var key = head.Split("\r\n").First(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))["Sec-WebSocket-Key:".Length..].Trim();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {HandshakeKeys.ComputeAccept(key)}\r\n\r\n"));
        return stream;
    }

    /// <summary>Reads up to and including the empty line, a byte at a time so nothing after it is consumed.</summary>
    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("closed during the handshake");
            head.Append((char)one[0]);
        }
        return head.ToString();
    }
}
