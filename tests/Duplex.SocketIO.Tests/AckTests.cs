using System.Net.Http;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests;

/// <summary>Server-side acknowledgements never hang: they time out, or fail when the socket goes.</summary>
public sealed class AckTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<string> PostAsync(string url, string body) =>
        await (await Http.PostAsync(url, new StringContent(body, Encoding.UTF8, "text/plain"))).Content.ReadAsStringAsync();

    /// <summary>A raw polling client connected to "/", which never answers acks.</summary>
    private static async Task<string> ConnectRawAsync(SocketIOTestServer server)
    {
        var open = await Http.GetStringAsync($"{server.Url}/socket.io/?EIO=4&transport=polling");
        var sid = JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!;
        var url = $"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}";
        Assert.Equal("ok", await PostAsync(url, "40"));
        return url;
    }

    [Fact]
    public async Task EmitWithAck_times_out()
    {
        var outcome = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(async socket =>
        {
            try
            {
                await socket.Timeout(TimeSpan.FromMilliseconds(200)).EmitWithAckAsync("question");
                outcome.TrySetResult(null);
            }
            catch (Exception ex)
            {
                outcome.TrySetResult(ex);
            }
        }));
        var url = await ConnectRawAsync(server);
        Assert.IsType<TimeoutException>(await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("2", await Http.GetStringAsync(url)); // the event did go out
    }

    [Fact]
    public async Task EmitWithAck_fails_when_the_client_disconnects()
    {
        var outcome = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reason = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(async socket =>
        {
            socket.OnDisconnect(r => reason.TrySetResult(r));
            try
            {
                await socket.EmitWithAckAsync("question");
                outcome.TrySetResult(null);
            }
            catch (Exception ex)
            {
                outcome.TrySetResult(ex);
            }
        }));
        var url = await ConnectRawAsync(server);
        var sent = await Http.GetStringAsync(url);
        Assert.Contains("20[\"question\"]", sent);
        Assert.Equal("ok", await PostAsync(url, "41"));
        var failure = Assert.IsType<SocketIODisconnectedException>(await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("client namespace disconnect", failure.Reason);
        Assert.Equal("client namespace disconnect", await reason.Task);
    }

    [Fact]
    public async Task Late_or_unknown_acks_are_ignored_and_the_answer_is_typed()
    {
        var answer = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(async socket =>
            answer.TrySetResult(await socket.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync<int>("question"))));
        var url = await ConnectRawAsync(server);
        var sent = await Http.GetStringAsync(url);
        Assert.Contains("20[\"question\"]", sent);
        Assert.Equal("ok", await PostAsync(url, "4399[1]\u001e430[42]"));
        Assert.Equal(42, await answer.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
