using System.IO.Compression;
using System.Net.Sockets;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Duplex.Integration.Tests;

/// <summary>
/// Broadcast with permessage-deflate: compressed once for every recipient whose server side resets
/// context per message; plain frames (RSV1 clear) to one whose context carries over.
/// </summary>
public class BroadcastCompressionTests
{
    private static async Task<(byte Head, byte[] Payload)> ReadFrameAsync(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var head = new byte[2];
        await stream.ReadExactlyAsync(head, cts.Token);
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await stream.ReadExactlyAsync(ext, cts.Token);
            length = ext[0] << 8 | ext[1];
        }
        Assert.True(length < 65536);
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cts.Token);
        return (head[0], payload);
    }

    private static byte[] Inflate(byte[] compressed)
    {
        // RFC 7692 §7.2.2: append 00 00 FF FF and inflate as raw DEFLATE.
        using var input = new MemoryStream([.. compressed, 0x00, 0x00, 0xFF, 0xFF]);
        using var inflater = new DeflateStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = inflater.Read(buffer)) > 0) output.Write(buffer, 0, n);
        }
        catch (InvalidDataException) when (output.Length > 0)
        {
            // The sync-flush tail has no final block: the data before it is complete.
        }
        return output.ToArray();
    }

    [Fact]
    public async Task No_context_takeover_recipients_share_one_compressed_frame_and_others_get_plain_frames()
    {
        await using var server = await TestServer.StartAsync(app =>
        {
            var lobby = app.Services.GetRequiredService<WebSocketConnectionRegistry>()["lobby"];
            app.MapWebSocket("/lobby", async c =>
            {
                lobby.Add(c);
                await foreach (var m in c.ReadMessagesAsync()) await lobby.BroadcastAsync(m.Data, m.Type);
            }, o => o.Connection.Compression.Enabled = true);
        });
        var (reset1, head1) = await RawPeer.ConnectAsync(server.WebSocketUri("/lobby"),
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
        var (reset2, head2) = await RawPeer.ConnectAsync(server.WebSocketUri("/lobby"),
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n");
        var (takeover, head3) = await RawPeer.ConnectAsync(server.WebSocketUri("/lobby"),
            "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        await using var _1 = reset1;
        await using var _2 = reset2;
        await using var _3 = takeover;
        Assert.Contains("server_no_context_takeover", head1);
        Assert.Contains("server_max_window_bits=10", head2);
        Assert.Contains("permessage-deflate", head3);
        await using var sender = await WebSocketClient.ConnectAsync(server.WebSocketUri("/lobby"));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (server.Registry["lobby"].Count < 4 && DateTime.UtcNow < deadline) await Task.Delay(10);

        var text = string.Concat(Enumerable.Repeat("the same words again and again, ", 40));
        for (int round = 0; round < 2; round++)
        {
            await sender.SendTextAsync(text);
            foreach (var peer in new[] { reset1, reset2 })
            {
                var (frameHead, payload) = await ReadFrameAsync(peer);
                Assert.Equal(0x81 | 0x40, frameHead); // FIN, RSV1, text
                Assert.True(payload.Length < text.Length / 4, $"{payload.Length} bytes for {text.Length}");
                Assert.Equal(text, Encoding.UTF8.GetString(Inflate(payload)));
            }
            var (plainHead, plain) = await ReadFrameAsync(takeover);
            Assert.Equal(0x81, plainHead); // FIN, text, RSV1 clear
            Assert.Equal(text, Encoding.UTF8.GetString(plain));
        }
    }
}
