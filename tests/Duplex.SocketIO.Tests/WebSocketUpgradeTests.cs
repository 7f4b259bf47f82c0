using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// The WebSocket transport and the upgrade to it, on their own: an in-memory WebSocket pair handed
/// straight to a session, the test playing the client.
/// </summary>
public sealed class WebSocketUpgradeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    /// <summary>The next text message the client end receives; null when the WebSocket closed.</summary>
    private static async Task<string?> ReceiveAsync(IAsyncEnumerator<WebSocketMessage> messages)
    {
        if (!await messages.MoveNextAsync().AsTask().WaitAsync(Patience)) return null;
        return messages.Current.IsText ? messages.Current.Text : "<binary>";
    }

    [Fact]
    public async Task Upgrade_answers_the_probe_releases_the_held_poll_with_a_noop_then_switches_on_5()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var poll = harness.PollAsync();
        await harness.WaitForPendingPollAsync();
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var upgrade = harness.Session.UpgradeAsync(server);

        await client.SendTextAsync("2probe");
        Assert.Equal("3probe", await ReceiveAsync(messages));
        Assert.Equal((StatusCodes.Status200OK, "6"), await poll);
        Assert.Equal("polling", harness.Session.Transport);

        await client.SendTextAsync("5");
        var deadline = DateTime.UtcNow + Patience;
        while (!harness.Session.Upgraded)
        {
            Assert.True(DateTime.UtcNow < deadline, "the upgrade never committed");
            await Task.Delay(5);
        }
        Assert.Equal("websocket", harness.Session.Transport);
        // Writable once the WebSocket writer is up with nothing to send.
        while (!harness.Session.IsWritable)
        {
            Assert.True(DateTime.UtcNow < deadline, "the WebSocket writer never became idle");
            await Task.Delay(5);
        }

        harness.Session.Send(EnginePacket.Message("over the websocket"));
        Assert.Equal("4over the websocket", await ReceiveAsync(messages));
        await client.SendTextAsync("4back");
        await client.SendTextAsync("3");
        // A poll after the switch is stale and refused; it takes nothing from the WebSocket's queue.
        Assert.Equal(StatusCodes.Status400BadRequest, (await harness.PollAsync()).Status);

        await client.CloseAsync();
        Assert.Equal(EngineCloseReason.TransportClose, await harness.Closed.WaitAsync(Patience));
        await upgrade.WaitAsync(Patience);
        Assert.Equal(["back"], harness.Messages);
    }

    [Fact]
    public async Task Packets_queued_during_the_probe_go_out_on_the_websocket_after_the_switch()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var upgrade = harness.Session.UpgradeAsync(server);
        await client.SendTextAsync("2probe");
        Assert.Equal("3probe", await ReceiveAsync(messages));

        harness.Session.Send([EnginePacket.Message("a"), EnginePacket.Message("b")]);
        await client.SendTextAsync("5");
        Assert.Equal("4a", await ReceiveAsync(messages));
        Assert.Equal("4b", await ReceiveAsync(messages));

        // As from the reference, a server close over WebSocket is the WebSocket's close, no close packet.
        harness.Session.Close();
        Assert.Null(await ReceiveAsync(messages));
        await upgrade.WaitAsync(Patience);
    }

    [Fact]
    public async Task Anything_but_5_after_the_probe_drops_the_websocket_and_the_session_stays_on_polling()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var upgrade = harness.Session.UpgradeAsync(server);
        await client.SendTextAsync("2probe");
        Assert.Equal("3probe", await ReceiveAsync(messages));

        await client.SendTextAsync("4not an upgrade");
        Assert.Null(await ReceiveAsync(messages));
        await upgrade.WaitAsync(Patience);
        Assert.Equal("polling", harness.Session.Transport);
        Assert.False(harness.Session.Upgraded);
        Assert.True(harness.Session.IsOpen);

        harness.Session.Send(EnginePacket.Message("still polling"));
        Assert.Equal((StatusCodes.Status200OK, "4still polling"), await harness.PollAsync());
    }

    [Fact]
    public async Task Second_upgrade_during_a_probe_is_dropped_and_the_first_goes_on()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var (first, firstClient) = EngineSessionHarness.NewWebSocketPair();
        var (second, secondClient) = EngineSessionHarness.NewWebSocketPair();
        await using var firstMessages = firstClient.ReadMessagesAsync().GetAsyncEnumerator();
        await using var secondMessages = secondClient.ReadMessagesAsync().GetAsyncEnumerator();
        var upgrade = harness.Session.UpgradeAsync(first);
        await firstClient.SendTextAsync("2probe");
        Assert.Equal("3probe", await ReceiveAsync(firstMessages));

        await harness.Session.UpgradeAsync(second).WaitAsync(Patience);
        Assert.Null(await ReceiveAsync(secondMessages));

        await firstClient.SendTextAsync("5");
        harness.Session.Send(EnginePacket.Message("x"));
        Assert.Equal("4x", await ReceiveAsync(firstMessages));
        Assert.Equal("websocket", harness.Session.Transport);
        harness.Session.Close();
        await upgrade.WaitAsync(Patience);
    }

    [Fact]
    public async Task Session_opened_over_websocket_refuses_an_upgrade()
    {
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var harness = EngineSessionHarness.OpenOverWebSocket(server);
        var run = harness.Session.RunWebSocketAsync();
        var open = await ReceiveAsync(messages);
        Assert.StartsWith("0{", open);
        Assert.Contains("\"upgrades\":[]", open);

        var (other, otherClient) = EngineSessionHarness.NewWebSocketPair();
        await using var otherMessages = otherClient.ReadMessagesAsync().GetAsyncEnumerator();
        await harness.Session.UpgradeAsync(other).WaitAsync(Patience);
        Assert.Null(await ReceiveAsync(otherMessages));
        Assert.True(harness.Session.IsOpen);

        await client.SendTextAsync("4hello");
        await client.CloseAsync();
        Assert.Equal(EngineCloseReason.TransportClose, await harness.Closed.WaitAsync(Patience));
        await run.WaitAsync(Patience);
        Assert.Equal(["hello"], harness.Messages);
    }

    [Fact]
    public async Task Binary_text_packet_over_websocket_fails_the_session_with_parse_error()
    {
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var harness = EngineSessionHarness.OpenOverWebSocket(server);
        var run = harness.Session.RunWebSocketAsync();
        Assert.StartsWith("0{", await ReceiveAsync(messages));

        // "b…" is polling's base64 form of a binary message; over a WebSocket binary travels as binary.
        await client.SendTextAsync("bAQI=");
        Assert.Equal(EngineCloseReason.ParseError, await harness.Closed.WaitAsync(Patience));
        await run.WaitAsync(Patience);
    }
}
