using System.IO.Pipelines;
using System.Text;
using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.Tests;

/// <summary>The polling transport on its own: requests handed straight to a session, no HTTP server.</summary>
public sealed class PollingTransportTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Poll_waits_for_a_packet_and_answers_it_as_a_payload()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var poll = harness.PollAsync();
        await harness.WaitForPendingPollAsync();
        Assert.False(poll.IsCompleted);

        harness.Session.Send([EnginePacket.Message("a"), EnginePacket.Message("b")]);
        Assert.Equal((StatusCodes.Status200OK, "4a\u001e4b"), await poll);
        Assert.False(harness.Session.IsWritable); // nobody holds a poll any more
    }

    [Fact]
    public async Task Second_pending_GET_is_answered_400_and_fails_the_session()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var first = harness.PollAsync();
        await harness.WaitForPendingPollAsync();

        var second = await harness.PollAsync();
        Assert.Equal(StatusCodes.Status400BadRequest, second.Status);
        Assert.Equal(EngineCloseReason.TransportError, await harness.Closed.WaitAsync(Patience));
        Assert.False(harness.Session.IsOpen);
        // The poll that was held ends with a close packet.
        Assert.Equal((StatusCodes.Status200OK, "1"), await first);
    }

    [Fact]
    public async Task Aborted_poll_fails_the_session()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        using var abort = new CancellationTokenSource();
        var poll = harness.PollAsync(abort.Token);
        await harness.WaitForPendingPollAsync();

        abort.Cancel();
        await poll;
        Assert.Equal(EngineCloseReason.TransportError, await harness.Closed.WaitAsync(Patience));
    }

    [Fact]
    public async Task POST_delivers_its_packets_in_order_and_answers_ok()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        Assert.Equal((StatusCodes.Status200OK, "ok"), await harness.PostAsync("4one\u001e4two\u001e3"));
        Assert.Equal(["one", "two"], harness.Messages);
        Assert.True(harness.Session.IsOpen);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task POST_over_maxHttpBufferSize_is_answered_413_and_the_session_stays_open(bool declareLength)
    {
        var harness = await EngineSessionHarness.OpenPollingAsync(o => o.MaxHttpBufferSize = 100);
        var tooLong = "4" + new string('x', 100);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, (await harness.PostAsync(tooLong, declareLength: declareLength)).Status);
        Assert.Empty(harness.Messages);
        Assert.True(harness.Session.IsOpen);

        // Exactly the limit is still accepted.
        Assert.Equal((StatusCodes.Status200OK, "ok"), await harness.PostAsync("4" + new string('x', 99), declareLength: declareLength));
        Assert.Single(harness.Messages);
    }

    [Fact]
    public async Task POST_overlapping_another_is_answered_400_and_fails_the_session()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var slowBody = new Pipe();
        var slow = harness.PostStreamingAsync(slowBody);
        await Task.Delay(20);
        Assert.False(slow.IsCompleted);

        Assert.Equal(StatusCodes.Status400BadRequest, (await harness.PostAsync("4late")).Status);
        Assert.Equal(EngineCloseReason.TransportError, await harness.Closed.WaitAsync(Patience));

        // The first POST still completes; its packets reach no one, the session being closed.
        await slowBody.Writer.WriteAsync(Encoding.UTF8.GetBytes("4early"));
        await slowBody.Writer.CompleteAsync();
        await slow;
        Assert.Empty(harness.Messages);
    }

    [Fact]
    public async Task Binary_POST_body_is_answered_400_and_fails_the_session()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        Assert.Equal(StatusCodes.Status400BadRequest, (await harness.PostAsync("4x", contentType: "application/octet-stream")).Status);
        Assert.Equal(EngineCloseReason.TransportError, await harness.Closed.WaitAsync(Patience));
    }

    [Fact]
    public async Task Undecodable_POST_body_fails_the_session_with_parse_error()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        Assert.Equal((StatusCodes.Status200OK, "ok"), await harness.PostAsync("9nonsense"));
        Assert.Equal(EngineCloseReason.ParseError, await harness.Closed.WaitAsync(Patience));
    }

    [Fact]
    public async Task Requests_other_than_GET_and_POST_get_500()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var context = EngineSessionHarness.NewRequest(HttpMethods.Put);
        await harness.Session.HandlePollingRequestAsync(context);
        Assert.Equal(StatusCodes.Status500InternalServerError, context.Response.StatusCode);
        Assert.True(harness.Session.IsOpen);
    }

    [Fact]
    public async Task Server_close_with_no_poll_held_leaves_the_queue_and_a_close_packet_for_the_next_poll()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        harness.Session.Send(EnginePacket.Message("last"));
        harness.Session.Close();
        Assert.Equal(EngineCloseReason.ForcedClose, await harness.Closed.WaitAsync(Patience));
        Assert.False(harness.Session.Send(EnginePacket.Message("too late")));

        Assert.Equal((StatusCodes.Status200OK, "4last\u001e1"), await harness.PollAsync());
    }

    [Fact]
    public async Task Client_close_in_a_POST_releases_the_held_poll_with_a_noop()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        var poll = harness.PollAsync();
        await harness.WaitForPendingPollAsync();

        Assert.Equal((StatusCodes.Status200OK, "ok"), await harness.PostAsync("1"));
        Assert.Equal(EngineCloseReason.TransportClose, await harness.Closed.WaitAsync(Patience));
        Assert.Equal((StatusCodes.Status200OK, "6"), await poll);
    }
}
