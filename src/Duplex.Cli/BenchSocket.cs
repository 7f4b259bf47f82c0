using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Duplex.Cli;

/// <summary>
/// The load generator's side of a WebSocket: a plain <see cref="Socket"/>, a hand-written upgrade
/// request and a minimal frame codec. Deliberately independent of Duplex's own client so that
/// nothing the engine does on either end is hidden from the measurement.
/// </summary>
internal sealed class BenchSocket : IDisposable
{
    public const uint MaskKey = 0x5A3C96E1;

    private readonly Socket _socket;
    private readonly byte[] _leftover;
    private int _leftoverLength;

    private BenchSocket(Socket socket, byte[] leftover, int leftoverLength, bool compressed)
    {
        _socket = socket;
        _leftover = leftover;
        _leftoverLength = leftoverLength;
        Compressed = compressed;
    }

    public Socket Socket => _socket;

    /// <summary>Whether the server accepted permessage-deflate (no context takeover either way).</summary>
    public bool Compressed { get; }

    public static async Task<BenchSocket> ConnectAsync(BenchTarget target, IPAddress? source, bool offerCompression, CancellationToken cancellationToken)
    {
        var socket = new Socket(target.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null) socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(target.EndPoint, cancellationToken);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = new StringBuilder()
                .Append("GET ").Append(target.Path).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(target.HostHeader).Append("\r\n")
                .Append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
                .Append("Sec-WebSocket-Key: ").Append(key).Append("\r\n")
                .Append("Sec-WebSocket-Version: 13\r\n");
            // No context takeover either way: every message inflates on its own, so the client can
            // send pre-compressed, pre-masked frames and check each echo without streaming zlib state.
            if (offerCompression)
                request.Append("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n");
            request.Append("\r\n");
            await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None, cancellationToken);

            var buffer = new byte[4096];
            int length = 0;
            int end;
            while ((end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (length == buffer.Length) throw new BenchException("handshake response head too long");
                int n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
                if (n == 0) throw new BenchException("server closed during the handshake");
                length += n;
            }
            var head = Encoding.ASCII.GetString(buffer, 0, end);
            var lines = head.Split("\r\n");
            if (!lines[0].StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
                throw new BenchException($"upgrade refused: {lines[0]}");
            var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
            string? accept = null;
            bool compressed = false;
            foreach (var line in lines.AsSpan(1))
            {
                int colon = line.IndexOf(':');
                if (colon <= 0) continue;
                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (name.Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase)) accept = value;
                else if (name.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase) && value.Contains("permessage-deflate", StringComparison.OrdinalIgnoreCase))
                    compressed = true;
            }
            if (accept != expected) throw new BenchException("bad Sec-WebSocket-Accept");
            int leftover = length - (end + 4);
            Buffer.BlockCopy(buffer, end + 4, buffer, 0, leftover);
            return new BenchSocket(socket, buffer, leftover, compressed);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Bytes that arrived with the handshake response (the server may speak first).</summary>
    public int TakeLeftover(Span<byte> destination)
    {
        int n = _leftoverLength;
        _leftover.AsSpan(0, n).CopyTo(destination);
        _leftoverLength = 0;
        return n;
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int n = await _socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data.Slice(n);
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>A masked client frame, ready to send as it is (RFC 6455 §5.2, §5.3).</summary>
    public static byte[] BuildFrame(byte opcode, ReadOnlySpan<byte> payload, bool rsv1 = false)
    {
        int headerLength = 2 + (payload.Length < 126 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8) + 4;
        var frame = new byte[headerLength + payload.Length];
        WriteFrame(frame, opcode, payload, rsv1);
        return frame;
    }

    public static int FrameLength(int payloadLength) =>
        2 + (payloadLength < 126 ? 0 : payloadLength <= ushort.MaxValue ? 2 : 8) + 4 + payloadLength;

    public static int WriteFrame(Span<byte> destination, byte opcode, ReadOnlySpan<byte> payload, bool rsv1 = false)
    {
        destination[0] = (byte)(0x80 | (rsv1 ? 0x40 : 0) | opcode);
        int pos;
        if (payload.Length < 126)
        {
            destination[1] = (byte)(0x80 | payload.Length);
            pos = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            pos = 4;
        }
        else
        {
            destination[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            pos = 10;
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination[pos..], MaskKey);
        pos += 4;
        for (int i = 0; i < payload.Length; i++)
            destination[pos + i] = (byte)(payload[i] ^ (byte)(MaskKey >> (24 - 8 * (i & 3))));
        return pos + payload.Length;
    }

    public static byte[] CloseFrame { get; } = BuildFrame(0x8, [0x03, 0xE8]);

    /// <summary>Raw DEFLATE of one message with the trailing empty block removed (RFC 7692 §7.2.1).</summary>
    public static byte[] Deflate(ReadOnlySpan<byte> payload)
    {
        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            deflate.Write(payload);
            deflate.Flush(); // ends with a sync flush marker 00 00 FF FF
        }
        var bytes = output.ToArray();
        // DeflateStream's dispose appends a final block after the sync flush; cut back to the marker.
        int marker = bytes.AsSpan().LastIndexOf(new byte[] { 0x00, 0x00, 0xFF, 0xFF });
        if (marker < 0) throw new InvalidOperationException("no sync flush marker from DeflateStream");
        return bytes.AsSpan(0, marker).ToArray();
    }

    /// <summary>Inflates one message compressed without context takeover (RFC 7692 §7.2.2).</summary>
    public static byte[] Inflate(ReadOnlySpan<byte> compressed, int expectedLength)
    {
        var input = new byte[compressed.Length + 4];
        compressed.CopyTo(input);
        input[^4] = 0x00; input[^3] = 0x00; input[^2] = 0xFF; input[^1] = 0xFF;
        using var deflate = new DeflateStream(new MemoryStream(input), CompressionMode.Decompress);
        var output = new byte[expectedLength + 1];
        int total = 0;
        int n;
        while (total < output.Length && (n = deflate.Read(output, total, output.Length - total)) > 0) total += n;
        return output.AsSpan(0, total).ToArray();
    }
}

/// <summary>Where to connect: loopback only.</summary>
internal sealed record BenchTarget(IPEndPoint EndPoint, string HostHeader, string Path)
{
    public static BenchTarget Parse(string url, string defaultPath)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "ws")
            throw new BenchException($"'{url}' is not a ws:// URL (the load generator speaks plain ws on loopback)");
        IPAddress address;
        if (uri.Host == "localhost") address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(uri.Host.Trim('[', ']'), out address!))
            throw new BenchException($"'{uri.Host}': give a loopback address or localhost");
        if (!IPAddress.IsLoopback(address)) throw new BenchException($"{address} is not a loopback address: the load generator only runs on loopback");
        var path = uri.AbsolutePath is "" or "/" ? defaultPath : uri.PathAndQuery;
        return new BenchTarget(new IPEndPoint(address, uri.Port), uri.Authority, path);
    }
}

internal sealed class BenchException(string message) : Exception(message);
