using System.Collections.Concurrent;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>
/// The server's and the client's sockets dispatch through the one shared registry: catch-all first,
/// removed handlers silent, and a failing handler (thrown or faulted later) logged while the reading
/// loop goes on to the next event.
/// </summary>
public sealed class SocketEventHandlerTests
{
    [Fact]
    public async Task Server_socket_survives_failing_handlers_and_dispatches_catch_all_first()
    {
        var seen = new ConcurrentQueue<string>();
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(socket =>
        {
            socket.OnAny(e => seen.Enqueue("any:" + e.Name));
            socket.On("boom", _ => throw new InvalidOperationException("sync"));
            socket.On("boom", async _ => { await Task.Yield(); throw new InvalidOperationException("async"); });
            socket.On("boom", _ => seen.Enqueue("boom:after"));
            socket.On("dropped", _ => seen.Enqueue("dropped"));
            socket.Off("dropped");
            socket.On("report", e => e.AckAsync(string.Join(",", seen)));
        }));
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast());
        await client.ConnectAsync(Waits.Deadline);

        await client.EmitAsync("boom");
        await client.EmitAsync("dropped");
        var report = await client.Timeout(Waits.Long).EmitWithAckAsync<string>("report");

        Assert.Equal("any:boom,boom:after,any:dropped,any:report", report);
    }

    [Fact]
    public async Task Client_socket_survives_failing_handlers_and_dispatches_catch_all_first()
    {
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(socket =>
            socket.On("go", async _ =>
            {
                await socket.EmitAsync("boom");
                await socket.EmitAsync("dropped");
                await socket.EmitAsync("last");
            })));
        var seen = new ConcurrentQueue<string>();
        var last = Waits.Signal<bool>();
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast());
        client.OnAny(e => seen.Enqueue("any:" + e.Name));
        client.On("boom", _ => throw new InvalidOperationException("sync"));
        client.On("boom", async _ => { await Task.Yield(); throw new InvalidOperationException("async"); });
        client.On("boom", _ => seen.Enqueue("boom:after"));
        client.On("dropped", _ => seen.Enqueue("dropped"));
        client.Off("dropped");
        client.On("last", _ => last.TrySetResult(true));
        await client.ConnectAsync(Waits.Deadline);

        await client.EmitAsync("go");
        await last.Within("the last event");

        Assert.Equal(["any:boom", "boom:after", "any:dropped", "any:last"], seen);
        Assert.True(client.IsConnected);
    }
}
