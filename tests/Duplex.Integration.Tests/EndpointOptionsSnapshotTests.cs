using Duplex.Integration.Tests.Infrastructure;
using Duplex.Server;

namespace Duplex.Integration.Tests;

/// <summary>An endpoint's connection options are fixed at its first connection, nested options included.</summary>
public class EndpointOptionsSnapshotTests
{
    private static async Task<string> EchoAsync(WebSocketConnection client, string text)
    {
        await client.SendTextAsync(text);
        var messages = Readers.GetValue(client, static c => c.ReadMessagesAsync().GetAsyncEnumerator());
        Assert.True(await messages.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)), $"closed ({client.CloseStatus}) before the echo");
        return messages.Current.Text;
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<WebSocketConnection, IAsyncEnumerator<WebSocketMessage>> Readers = new();

    [Fact]
    public async Task Compression_negotiation_ignores_changes_to_the_endpoint_options_after_the_first_connection()
    {
        WebSocketEndpointOptions? endpoint = null;
        await using var server = await TestServer.StartEchoAsync(o =>
        {
            o.Connection.Compression.Enabled = true;
            endpoint = o;
        });
        await using var first = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        Assert.NotNull(first.Compression);

        endpoint!.Connection.Compression.Enabled = false;
        await using var second = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));

        // Negotiation and the connections read the same copy: both still see compression on.
        Assert.NotNull(second.Compression);
        Assert.Equal("deflated", await EchoAsync(second, "deflated"));
    }

    [Fact]
    public async Task Clearing_the_endpoint_rate_limit_after_the_first_connection_does_not_break_live_connections()
    {
        WebSocketEndpointOptions? endpoint = null;
        await using var server = await TestServer.StartEchoAsync(o =>
        {
            o.Connection.ReceiveRateLimit.MessagesPerSecond = 10_000;
            endpoint = o;
        });
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        Assert.Equal("before", await EchoAsync(client, "before"));

        // The live connection made its buckets from a limit; it must not read this one.
        endpoint!.Connection.ReceiveRateLimit.MessagesPerSecond = null;
        endpoint.Connection.ReceiveRateLimit.BytesPerSecond = 1;

        for (int i = 0; i < 20; i++) Assert.Equal($"after {i}", await EchoAsync(client, $"after {i}"));
        Assert.Equal(WebSocketState.Open, client.State);
    }
}
