using System.Security.Cryptography;
using System.Text;
using Duplex.Protocol;

namespace Duplex.Integration.Tests.Interop;

/// <summary><c>WebSocketConnection.AsStream</c> against Node's ws echo server (tests/peers/ws-echo-server.js).</summary>
public sealed class ConnectionStreamTests(NodeWsServer server) : IClassFixture<NodeWsServer>
{
    private Task<WebSocketConnection> ConnectAsync() => WebSocketClient.ConnectAsync(server.Uri("/echo"));

    [Fact]
    public async Task A_megabyte_written_through_the_stream_comes_back_through_it_byte_exact()
    {
        var connection = await ConnectAsync();
        await using var stream = connection.AsStream();
        var sent = RandomNumberGenerator.GetBytes(1024 * 1024);
        // Reads run while the writes go out: 64 messages of 16 KiB, read back in pieces of other sizes.
        var reading = Task.Run(async () =>
        {
            var back = new byte[sent.Length];
            int read = 0;
            while (read < back.Length)
            {
                int n = await stream.ReadAsync(back.AsMemory(read, Math.Min(7000, back.Length - read)));
                Assert.NotEqual(0, n);
                read += n;
            }
            return back;
        });
        for (int i = 0; i < sent.Length; i += 16 * 1024) await stream.WriteAsync(sent.AsMemory(i, 16 * 1024));
        Assert.Equal(sent, await reading.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Stream_readers_and_writers_work_over_it_and_dispose_closes_with_1000()
    {
        var connection = await ConnectAsync();
        var stream = connection.AsStream(WebSocketMessageType.Text);
        var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
        var reader = new StreamReader(stream, Encoding.UTF8);
        await writer.WriteLineAsync("first line ✓");
        await writer.WriteLineAsync("second line");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("first line ✓", await reader.ReadLineAsync(cts.Token));
        Assert.Equal("second line", await reader.ReadLineAsync(cts.Token));

        await stream.DisposeAsync();
        Assert.Equal(WebSocketState.Closed, connection.State);
        Assert.Equal(CloseStatus.NormalClosure, connection.CloseStatus); // ws answered our 1000
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.WriteAsync(new byte[1]));
    }

    [Fact]
    public async Task A_close_without_a_code_ends_the_stream()
    {
        await using var connection = await ConnectAsync();
        var stream = connection.AsStream(WebSocketMessageType.Text, ownsConnection: false);
        await stream.WriteAsync("close-empty"u8.ToArray());
        var buffer = new byte[16];
        Assert.Equal(0, await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await stream.ReadAsync(buffer)); // and stays ended
    }

    [Theory]
    [InlineData("close-me", "4001")]
    [InlineData("terminate-me", "1006")]
    public async Task Any_other_end_is_an_error_from_the_read_not_an_end_of_stream(string command, string code)
    {
        await using var connection = await ConnectAsync();
        var stream = connection.AsStream(WebSocketMessageType.Text, ownsConnection: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(command));
        var error = await Assert.ThrowsAsync<IOException>(() => stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains(code, error.Message);
    }

    [Fact]
    public async Task A_cancelled_read_loses_nothing_the_next_read_returns_it()
    {
        await using var connection = await ConnectAsync();
        var stream = connection.AsStream(ownsConnection: false);
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.ReadAsync(new byte[4], cts.Token).AsTask());
        await stream.WriteAsync(new byte[] { 1, 2, 3 });
        var buffer = new byte[4];
        int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer[..n]);
    }
}
