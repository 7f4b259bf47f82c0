using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Interop;

/// <summary>
/// CONNECT_ERROR has no binary form in Socket.IO v5 (socket.io-parser's Encoder makes binary packets of
/// EVENT and ACK only; anything else is JSON.stringify'd whole), so binary in a refusal's data must
/// travel inside the JSON of the one text packet, never as attachments.
/// </summary>
public sealed class ConnectErrorDataTests
{
    [Fact]
    public void Connect_error_with_byte_data_is_one_text_packet_with_the_bytes_as_base64()
    {
        var io = new SocketIOServer();
        var packets = SocketIOEncoder.ConnectError("/", "banned", new { reason = "x", blob = new byte[] { 1, 2, 3 } }, io.JsonOptions);
        var packet = Assert.Single(packets);
        Assert.Equal("4{\"message\":\"banned\",\"data\":{\"reason\":\"x\",\"blob\":\"AQID\"}}", packet.Text);
    }

    [Fact]
    public void Event_with_byte_data_still_carries_it_as_an_attachment()
    {
        var io = new SocketIOServer();
        var packets = SocketIOEncoder.Event("/", "file", [new byte[] { 1, 2, 3 }], null, io.JsonOptions);
        Assert.Equal(2, packets.Length);
        Assert.Equal("51-[\"file\",{\"_placeholder\":true,\"num\":0}]", packets[0].Text);
        Assert.Equal(new byte[] { 1, 2, 3 }, packets[1].Binary);
    }

    [Fact]
    public async Task Refusal_with_byte_data_reaches_the_npm_client_as_connect_error_with_its_message()
    {
        await using var server = await SocketIOTestServer.StartAsync(io => io.Use(_ =>
            throw new SocketIOConnectRefusedException("banned", new { reason = "x", blob = new byte[] { 1, 2, 3 } })));
        var run = (await NodeClient.RunAsync("refused", server.Url, new { timeoutMs = 5000 }, TimeSpan.FromSeconds(10))).EnsureDone();
        var error = run.Step("connect_error");
        Assert.Equal("banned", error.GetProperty("message").GetString());
        var data = error.GetProperty("data");
        Assert.Equal("x", data.GetProperty("reason").GetString());
        Assert.Equal(Convert.ToBase64String([1, 2, 3]), data.GetProperty("blob").GetString());
    }

    [Fact]
    public async Task Refusal_with_byte_data_reaches_the_Duplex_client_as_a_connect_exception()
    {
        await using var server = await SocketIOTestServer.StartAsync(io => io.Use(_ =>
            throw new SocketIOConnectRefusedException("banned", new { blob = new byte[] { 1, 2, 3 } })));
        await using var client = new SocketIOClient(server.BaseUri, new SocketIOClientOptions { Reconnection = false, ConnectTimeout = TimeSpan.FromSeconds(5) });
        var error = await Assert.ThrowsAsync<SocketIOConnectException>(() => client.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(error.IsRefusal, error.ToString());
        Assert.Equal("banned", error.Message);
        Assert.Equal(new byte[] { 1, 2, 3 }, error.ErrorData?.GetProperty("blob").GetBytesFromBase64());
    }
}
