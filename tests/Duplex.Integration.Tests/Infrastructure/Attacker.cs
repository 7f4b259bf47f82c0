using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Duplex.Server;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Duplex.Integration.Tests.Infrastructure;

/// <summary>
/// A hostile client on a raw socket, and the echo server it attacks on either upgrade path
/// (the connection-level fast path or Kestrel's HTTP layer) and either transport (Kestrel's sockets or Duplex's).
/// </summary>
internal static class Attacker
{
    /// <summary>An echo endpoint at /echo: <paramref name="fastPath"/> answers upgrades beneath the HTTP layer; <paramref name="duplexSockets"/> runs on Duplex's transport.</summary>
    public static Task<TestServer> StartEchoAsync(bool fastPath, bool duplexSockets, Action<WebSocketEndpointOptions>? configure = null, TimeSpan? headersTimeout = null,
        Action<WebSocketConnection>? closed = null) =>
        TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            try
            {
                await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
            }
            finally
            {
                closed?.Invoke(c);
            }
        }, configure), fastPath: fastPath, services: s =>
        {
            if (duplexSockets) s.AddSingleton<IConnectionListenerFactory, DuplexSocketTransportFactory>();
            if (headersTimeout is { } t) s.Configure<KestrelServerOptions>(k => k.Limits.RequestHeadersTimeout = t);
        });

    public static string UpgradeHead(Uri server, string extraHeaders = "") =>
        $"GET /echo HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";

    public static async Task<TcpClient> ConnectAsync(Uri server)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Port);
        return tcp;
    }

    /// <summary>Connects and completes the upgrade; the stream is positioned after the 101's head.</summary>
    public static async Task<(TcpClient Tcp, NetworkStream Stream, string Head)> UpgradeAsync(Uri server, string extraHeaders = "")
    {
        var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(UpgradeHead(server, extraHeaders)));
        var head = await ReadHeadAsync(stream, TimeSpan.FromSeconds(10));
        Assert.StartsWith("HTTP/1.1 101", head);
        return (tcp, stream, head);
    }

    /// <summary>The response head, read a byte at a time; "" when the server closed (or reset) before sending one.</summary>
    public static async Task<string> ReadHeadAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var head = new StringBuilder();
        var one = new byte[1];
        try
        {
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one, cts.Token) == 0) break;
                head.Append((char)one[0]);
            }
        }
        catch (IOException)
        {
        }
        return head.ToString();
    }

    /// <summary>
    /// One masked client frame (mask key 0, so the payload goes as is). <paramref name="announced"/> puts
    /// another length in the header than the payload has (the 64-bit form is used for anything over 65535).
    /// </summary>
    public static byte[] Frame(byte first, ReadOnlySpan<byte> payload, ulong? announced = null)
    {
        ulong length = announced ?? (ulong)payload.Length;
        int lengthBytes = length < 126 ? 0 : length <= ushort.MaxValue ? 2 : 8;
        var frame = new byte[2 + lengthBytes + 4 + payload.Length];
        frame[0] = first;
        if (lengthBytes == 0) frame[1] = (byte)(0x80 | (int)length);
        else if (lengthBytes == 2)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)length);
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), length);
        }
        payload.CopyTo(frame.AsSpan(2 + lengthBytes + 4));
        return frame;
    }

    /// <summary>
    /// Reads the server's frames until its close frame and returns that frame's code (unmasked frames, as a
    /// server sends); null when TCP ended or the time ran out first. Other frames are skipped; data frames are
    /// counted into <paramref name="dataBytes"/>.
    /// </summary>
    public static async Task<int?> ReadCloseCodeAsync(NetworkStream stream, TimeSpan timeout, StrongBox<long>? dataBytes = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        var head = new byte[10];
        var skip = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(head.AsMemory(0, 2), cts.Token);
                long length = head[1] & 0x7F;
                if (length == 126)
                {
                    await stream.ReadExactlyAsync(head.AsMemory(2, 2), cts.Token);
                    length = BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(2));
                }
                else if (length == 127)
                {
                    await stream.ReadExactlyAsync(head.AsMemory(2, 8), cts.Token);
                    length = (long)BinaryPrimitives.ReadUInt64BigEndian(head.AsSpan(2));
                }
                int opcode = head[0] & 0x0F;
                if (opcode == 0x8)
                {
                    var payload = new byte[length];
                    await stream.ReadExactlyAsync(payload, cts.Token);
                    return length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005;
                }
                if (opcode is 0x0 or 0x1 or 0x2 && dataBytes is not null) dataBytes.Value += length;
                while (length > 0)
                {
                    int n = (int)Math.Min(length, skip.Length);
                    await stream.ReadExactlyAsync(skip.AsMemory(0, n), cts.Token);
                    length -= n;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes <paramref name="chunks"/> until they run out or <paramref name="stop"/> is cancelled; a write the
    /// server refuses (reset, closed) ends it. Returns how many chunks went out.
    /// </summary>
    public static async Task<long> FloodAsync(NetworkStream stream, IEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken stop)
    {
        long sent = 0;
        try
        {
            foreach (var chunk in chunks)
            {
                if (stop.IsCancellationRequested) break;
                await stream.WriteAsync(chunk, stop);
                sent++;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        return sent;
    }
}

/// <summary>A well-behaved client beside the attack: its echo must keep working.</summary>
internal sealed class NormalClient : IAsyncDisposable
{
    private readonly WebSocketConnection _client;
    private readonly IAsyncEnumerator<WebSocketMessage> _messages;
    private int _sequence;

    private NormalClient(WebSocketConnection client)
    {
        _client = client;
        _messages = client.ReadMessagesAsync().GetAsyncEnumerator();
    }

    public static async Task<NormalClient> ConnectAsync(TestServer server, WebSocketClientOptions? options = null) =>
        new(await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options));

    /// <summary>One echo round trip; fails the test if it does not come back within 20 s.</summary>
    public async Task EchoAsync()
    {
        var text = $"normal {++_sequence}";
        await _client.SendTextAsync(text).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(await _messages.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)), "the normal client's connection ended");
        Assert.Equal(text, _messages.Current.Text);
    }

    public async ValueTask DisposeAsync()
    {
        await _messages.DisposeAsync();
        await _client.DisposeAsync();
    }
}
