using System.IO.Compression;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests.Interop;

/// <summary>permessage-deflate (RFC 7692) against Node ws, python websockets, and a hostile peer.</summary>
public class CompressionInteropTests
{
    private static Task<TestServer> StartCompressingEchoAsync(Action<WebSocketEndpointOptions>? more = null) =>
        TestServer.StartEchoAsync(o =>
        {
            o.Connection.Compression.Enabled = true;
            more?.Invoke(o);
        });

    [Fact]
    public async Task Node_ws_client_with_deflate_gets_every_message_back_compressed()
    {
        var negotiated = new TaskCompletionSource<string?>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            negotiated.TrySetResult(c.Compression?.ToString());
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, o => o.Connection.Compression.Enabled = true));
        await using var peer = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("ws-deflate.js"), "client", server.WebSocketUri("/echo").ToString());
        var result = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("permessage-deflate", result.GetProperty("extensions").GetString());
        Assert.Equal(5, result.GetProperty("echoed").GetInt32());
        Assert.Equal(0, result.GetProperty("mismatches").GetArrayLength());
        Assert.NotNull(await negotiated.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Duplex_client_compresses_with_a_Node_ws_server()
    {
        await using var peer = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("ws-deflate.js"), "server");
        int port = (await peer.ReadJsonAsync()).GetProperty("port").GetInt32();
        await using var client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"));
        Assert.NotNull(client.Compression);
        Assert.StartsWith("permessage-deflate", (await peer.ReadJsonAsync()).GetProperty("extensions").GetString());
        var text = string.Concat(Enumerable.Repeat("compress me ✓ ", 4000));
        var binary = RandomNumberGenerator.GetBytes(200 * 1024);
        await client.SendTextAsync(text);
        await client.SendBinaryAsync(binary);
        await client.SendTextAsync("tiny");
        var got = new List<(WebSocketMessageType, byte[])>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            got.Add((m.Type, m.ToArray()));
            if (got.Count == 3) break;
        }
        Assert.Equal(text, Encoding.UTF8.GetString(got[0].Item2));
        Assert.Equal(binary, got[1].Item2);
        Assert.Equal("tiny", Encoding.UTF8.GetString(got[2].Item2));
        await client.CloseAsync();
        Assert.Equal(CloseStatus.NormalClosure, client.CloseStatus);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_message_sent_in_fragments_is_compressed_and_ws_inflates_it(bool clientNoContextTakeover)
    {
        await using var peer = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("ws-deflate.js"), "server");
        int port = (await peer.ReadJsonAsync()).GetProperty("port").GetInt32();
        var options = new WebSocketClientOptions();
        options.Connection.Compression.ClientNoContextTakeover = clientNoContextTakeover;
        await using var client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), options);
        Assert.NotNull(client.Compression);
        Assert.StartsWith("permessage-deflate", (await peer.ReadJsonAsync()).GetProperty("extensions").GetString());
        // Without context takeover each message gets a deflater from the shared pool, held across its fragments.
        Assert.Equal(clientNoContextTakeover, client.Compression!.SenderResetsContext(WebSocketRole.Client));

        // 1 MiB of text in 16 fragments, twice (the second after the context of the first), then a whole one.
        var text = string.Concat(Enumerable.Repeat("stream me, compressed ✓ ", 45_000))[..(1024 * 1024)];
        var bytes = Encoding.UTF8.GetBytes(text);
        long before = 0;
        for (int round = 0; round < 2; round++)
        {
            await using (var writer = await client.BeginMessageAsync(WebSocketMessageType.Binary))
            {
                for (int i = 0; i < 15; i++) await writer.WriteAsync(bytes.AsMemory(i * 65536, 65536));
                await writer.CompleteAsync(bytes.AsMemory(15 * 65536));
            }
            var seen = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(bytes.Length, seen.GetProperty("message").GetInt32());
            long wire = seen.GetProperty("bytesRead").GetInt64() - before;
            before = seen.GetProperty("bytesRead").GetInt64();
            Assert.True(wire < bytes.Length / 10, $"round {round}: {wire} bytes on the wire for {bytes.Length}: not compressed");
        }
        await client.SendTextAsync("whole");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var got = new List<byte[]>();
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            got.Add(m.ToArray());
            if (got.Count == 3) break;
        }
        Assert.Equal(bytes, got[0]);
        Assert.Equal(bytes, got[1]);
        Assert.Equal("whole", Encoding.UTF8.GetString(got[2]));

        // compress: false keeps a fragmented message as it is on the wire.
        await using (var writer = await client.BeginMessageAsync(WebSocketMessageType.Binary, compress: false))
            await writer.CompleteAsync(bytes);
        var whole = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(5, whole.GetProperty("message").GetInt32());
        var plain = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(bytes.Length, plain.GetProperty("message").GetInt32());
        long raw = plain.GetProperty("bytesRead").GetInt64() - whole.GetProperty("bytesRead").GetInt64();
        Assert.True(raw >= bytes.Length, $"{raw} bytes on the wire: compressed although compress was false");
        await client.CloseAsync();
    }

    [Fact]
    public async Task A_memory_level_of_1_still_round_trips_with_a_Node_ws_client()
    {
        await using var server = await StartCompressingEchoAsync(o => o.Connection.Compression.MemoryLevel = 1);
        await using var peer = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("ws-deflate.js"), "client", server.WebSocketUri("/echo").ToString());
        var result = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("permessage-deflate", result.GetProperty("extensions").GetString());
        Assert.Equal(5, result.GetProperty("echoed").GetInt32());
        Assert.Equal(0, result.GetProperty("mismatches").GetArrayLength());
    }

    [Fact]
    public async Task Past_the_compression_budget_new_connections_open_uncompressed_until_one_ends()
    {
        var agreed = new PerMessageDeflateParameters(false, false, 15, 15); // what a default client and server agree
        long perConnection = CompressionMemoryBudget.CostOf(agreed, WebSocketRole.Server, 8);
        Assert.Equal((1 << 17) + (1 << 17) + (1 << 15) + 7 * 1024, perConnection); // zlib's formulas, windows of 15
        var budget = new CompressionMemoryBudget(2 * perConnection);
        await using var server = await StartCompressingEchoAsync(o => o.Connection.Compression.MemoryBudget = budget);
        var uri = server.WebSocketUri("/echo");

        await using var a = await WebSocketClient.ConnectAsync(uri);
        await using var b = await WebSocketClient.ConnectAsync(uri);
        await using var c = await WebSocketClient.ConnectAsync(uri);
        Assert.NotNull(a.Compression);
        Assert.NotNull(b.Compression);
        Assert.Null(c.Compression); // declined: the handshake's answer carried no extension
        Assert.Equal(1, budget.Declined);
        Assert.Equal(2 * perConnection, budget.UsedBytes);

        // The uncompressed one works as any other.
        await c.SendTextAsync("plain");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var m in c.ReadMessagesAsync(cts.Token)) { Assert.Equal("plain", m.Text); break; }

        await a.CloseAsync();
        for (int i = 0; i < 200 && budget.UsedBytes != perConnection; i++) await Task.Delay(25);
        Assert.Equal(perConnection, budget.UsedBytes);
        await using var d = await WebSocketClient.ConnectAsync(uri);
        Assert.NotNull(d.Compression);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketConnectionOptions { Compression = { MemoryLevel = 0 } }.Compression.Validate());
    }

    [Fact]
    public async Task A_Node_ws_client_told_to_reset_its_context_is_inflated_by_pooled_decompressors()
    {
        // RFC 7692 §7.1.1.2: the server may ask for client_no_context_takeover unoffered; ws then resets per message.
        var agreed = new TaskCompletionSource<PerMessageDeflateParameters?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            agreed.TrySetResult(c.Compression);
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, o =>
        {
            o.Connection.Compression.Enabled = true;
            o.Connection.Compression.ClientNoContextTakeover = true;
        }));
        await using var peer = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("ws-deflate.js"), "client", server.WebSocketUri("/echo").ToString());
        var result = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(5, result.GetProperty("echoed").GetInt32());
        Assert.Equal(0, result.GetProperty("mismatches").GetArrayLength());
        Assert.True((await agreed.Task.WaitAsync(TimeSpan.FromSeconds(10)))!.ClientNoContextTakeover);
    }

    [Fact]
    public async Task Pooled_decompressors_shared_by_many_connections_keep_every_message_apart()
    {
        await using var server = await StartCompressingEchoAsync(o => o.Connection.Compression.ClientNoContextTakeover = true);
        var options = new WebSocketClientOptions();
        options.Connection.Compression.ClientNoContextTakeover = true;
        var clients = new List<WebSocketConnection>();
        for (int i = 0; i < 20; i++) clients.Add(await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options));
        Assert.All(clients, c => Assert.True(c.Compression!.ClientNoContextTakeover));
        await Task.WhenAll(clients.Select((c, i) => Task.Run(async () =>
        {
            var sent = Enumerable.Range(0, 20).Select(j => string.Concat(Enumerable.Repeat($"client {i} message {j} ", 200 + j * 37))).ToArray();
            var receiving = Task.Run(async () =>
            {
                int n = 0;
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await foreach (var m in c.ReadMessagesAsync(cts.Token))
                {
                    Assert.Equal(sent[n], m.Text);
                    if (++n == sent.Length) break;
                }
            });
            foreach (var text in sent) await c.SendTextAsync(text);
            await receiving;
            await c.CloseAsync();
        })));
        foreach (var c in clients) await c.DisposeAsync();
    }

    [Fact]
    public async Task Python_websockets_client_negotiates_deflate_by_default()
    {
        await using var server = await StartCompressingEchoAsync();
        var script = """
            import asyncio, json, sys, websockets
            async def main():
                async with websockets.connect(sys.argv[1]) as ws:
                    text = "hello websockets " * 3000
                    await ws.send(text)
                    echo = await ws.recv()
                    print(json.dumps({"extensions": ws.response_headers.get("Sec-WebSocket-Extensions"), "same": echo == text}), flush=True)
            asyncio.run(main())
            """;
        var path = Path.Combine(Path.GetTempPath(), $"duplex-py-deflate-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, script);
        try
        {
            await using var peer = PeerProcess.Start(InteropPeers.Python, path, server.WebSocketUri("/echo").ToString());
            var result = await peer.ReadJsonAsync(TimeSpan.FromSeconds(30));
            Assert.StartsWith("permessage-deflate", result.GetProperty("extensions").GetString());
            Assert.True(result.GetProperty("same").GetBoolean());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false, false, 15, 15)]
    [InlineData(true, true, 15, 15)]
    [InlineData(false, false, 9, 10)]
    [InlineData(true, false, 12, 8)]
    public async Task Duplex_to_Duplex_round_trips_under_each_parameter_set(bool serverNoContext, bool clientNoContext, int serverBits, int clientBits)
    {
        await using var server = await StartCompressingEchoAsync();
        var options = new WebSocketClientOptions();
        options.Connection.Compression.ServerNoContextTakeover = serverNoContext;
        options.Connection.Compression.ClientNoContextTakeover = clientNoContext;
        options.Connection.Compression.ServerMaxWindowBits = serverBits;
        options.Connection.Compression.ClientMaxWindowBits = clientBits;
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        Assert.NotNull(client.Compression);
        Assert.Equal(serverNoContext, client.Compression!.ServerNoContextTakeover);
        Assert.Equal(clientNoContext, client.Compression.ClientNoContextTakeover);
        var rng = new Random(serverBits * 31 + clientBits);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        for (int i = 0; i < 20; i++)
        {
            var text = string.Concat(Enumerable.Range(0, rng.Next(1, 400)).Select(j => $"line {j % 7} of message {i % 3}; "));
            await client.SendTextAsync(text);
            await foreach (var m in client.ReadMessagesAsync(cts.Token))
            {
                Assert.Equal(text, m.Text);
                break;
            }
        }
    }

    [Fact]
    public async Task Decompression_bomb_is_stopped_at_the_size_limit_with_1009()
    {
        await using var server = await StartCompressingEchoAsync(o => o.Connection.MaxMessageSize = 1024 * 1024);
        var (stream, head) = await RawPeer.ConnectAsync(server.WebSocketUri("/echo"), "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        using var _stream = stream;
        Assert.Contains("permessage-deflate", head);

        // 64 MiB of zeros deflate to about 64 KiB: a bomb against a 1 MiB limit.
        var compressed = new MemoryStream();
        using (var deflate = new DeflateStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (int i = 0; i < 64; i++) deflate.Write(zeros);
        }
        var payload = compressed.ToArray();
        var frame = new List<byte> { 0xC2, 0xFF }; // FIN + RSV1 + binary, masked, 64-bit length
        frame.AddRange(BitConverter.GetBytes((ulong)payload.Length).Reverse());
        var key = RandomNumberGenerator.GetBytes(4);
        frame.AddRange(key);
        frame.AddRange(payload.Select((b, i) => (byte)(b ^ key[i % 4])));
        try
        {
            await stream.WriteAsync(frame.ToArray());
        }
        catch (IOException)
        {
            // The server may close before taking all of it; its close frame is already on its way.
        }
        var buffer = new byte[256];
        int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(n >= 4);
        Assert.Equal(0x88, buffer[0]);
        Assert.Equal(1009, (buffer[2] << 8) | buffer[3]);
    }

    [Fact]
    public async Task Server_declines_compression_when_it_is_off_and_the_client_goes_on_uncompressed()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        Assert.Null(client.Compression);
        await client.SendTextAsync(new string('z', 10000));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            Assert.Equal(10000, m.Length);
            break;
        }
    }
}
