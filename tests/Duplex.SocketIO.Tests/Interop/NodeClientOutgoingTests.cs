using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Interop;

/// <summary>The npm socket.io-client against the outgoing path: volatile emits, Compress(false).</summary>
public sealed class NodeClientOutgoingTests
{
    [Theory]
    [InlineData("websocket", "socket")]
    [InlineData("websocket", "broadcast")]
    [InlineData("polling", "socket")]
    public async Task A_burst_of_volatile_emits_delivers_fewer_than_sent_while_every_ordinary_emit_arrives(string transport, string mode)
    {
        const int Burst = 1000, Regular = 200;
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(socket =>
            socket.On("burst", async _ =>
            {
                for (int i = 0; i < Burst; i++)
                {
                    if (mode == "socket") await socket.Volatile.EmitAsync("v", i);
                    else await io.To(socket.Id).Volatile.EmitAsync("v", i);
                }
                for (int i = 0; i < Regular; i++) await socket.EmitAsync("n", i);
                await socket.EmitAsync("burst-end");
            })));
        var step = (await NodeClient.RunAsync("volatile-burst", server.Url, new { transports = new[] { transport } })).EnsureDone().Step("burst");
        Assert.Equal(transport, step.GetProperty("transport").GetString());
        Assert.InRange(step.GetProperty("volatile").GetInt32(), 0, Burst - 1);
        Assert.Equal(Regular, step.GetProperty("regular").GetInt32());
    }

    [Fact]
    public async Task Compress_false_sends_a_packet_without_permessage_deflate_on_the_websocket_transport()
    {
        var big = string.Concat(Enumerable.Repeat("compressible text, ", 200));
        await using var server = await SocketIOTestServer.StartAsync(io =>
        {
            io.OnConnection(socket => socket.On("send-payloads", async _ =>
            {
                await socket.Compress(false).EmitAsync("payload", big);
                await socket.EmitAsync("payload", big);
                await io.To(socket.Id).Compress(false).EmitAsync("payload", big);
                await socket.EmitAsync("payload-end");
            }));
        }, o => o.ConfigureWebSocket = w => w.Connection.Compression.Enabled = true);
        var step = (await NodeClient.RunAsync("compress-flag", server.Url)).EnsureDone().Step("frames");
        Assert.Contains("permessage-deflate", step.GetProperty("extensions").GetString());
        Assert.Equal([big.Length, big.Length, big.Length], step.GetProperty("payloads").EnumerateArray().Select(p => p.GetInt32()));
        // RSV1 marks a compressed message (RFC 7692 §6): clear for Compress(false), set for the default.
        Assert.Equal([false, true, false], step.GetProperty("large").EnumerateArray().Select(f => f.GetBoolean()));
    }
}
