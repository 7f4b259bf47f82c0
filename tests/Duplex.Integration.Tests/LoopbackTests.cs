using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;

namespace Duplex.Integration.Tests;

public class LoopbackTests
{
    [Fact]
    public async Task Text_message_comes_back_unchanged()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        await client.SendTextAsync("héllo ✓");
        await foreach (var m in client.ReadMessagesAsync())
        {
            Assert.Equal(WebSocketMessageType.Text, m.Type);
            Assert.Equal("héllo ✓", m.Text);
            break;
        }
        await client.CloseAsync(CloseStatus.NormalClosure, "bye");
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal(CloseStatus.NormalClosure, client.CloseStatus);
    }
}
