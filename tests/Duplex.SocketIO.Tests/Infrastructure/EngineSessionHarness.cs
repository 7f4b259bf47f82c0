using System.IO.Pipelines;
using System.Text;
using Duplex.Protocol;
using Duplex.SocketIO.EngineIO;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.Tests.Infrastructure;

/// <summary>
/// One Engine.IO session with no server around it: the test hands its transports requests
/// (<see cref="DefaultHttpContext"/>) and WebSockets (an in-memory pair) directly.
/// </summary>
internal sealed class EngineSessionHarness
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EngineSessionHarness(EngineIOOptions options, WebSocketConnection? socket)
    {
        // No heartbeat during a test: a ping would land in the payloads it asserts.
        options.PingInterval = TimeSpan.FromMinutes(5);
        Server = new EngineIOServer(options);
        Session = new EngineIOSession(Server, EngineIOServer.NewId(), new DefaultHttpContext(), socket);
        Session.Message += (_, packet) => { lock (Messages) Messages.Add(packet.Text ?? "<binary>"); };
        Session.Closed += (_, reason) => _closed.TrySetResult(reason);
        Session.Start();
    }

    public EngineIOServer Server { get; }

    public EngineIOSession Session { get; }

    /// <summary>The text of each message packet the session received, in order.</summary>
    public List<string> Messages { get; } = [];

    /// <summary>The close reason, once the session closed.</summary>
    public Task<string> Closed => _closed.Task;

    /// <summary>A polling session whose open packet was already collected by a first GET.</summary>
    public static async Task<EngineSessionHarness> OpenPollingAsync(Action<EngineIOOptions>? configure = null)
    {
        var options = new EngineIOOptions();
        configure?.Invoke(options);
        var harness = new EngineSessionHarness(options, socket: null);
        var open = await harness.PollAsync();
        Assert.Equal(StatusCodes.Status200OK, open.Status);
        Assert.StartsWith("0{", open.Body);
        return harness;
    }

    /// <summary>A session opened over <paramref name="socket"/>; its transport is not running yet.</summary>
    public static EngineSessionHarness OpenOverWebSocket(WebSocketConnection socket, Action<EngineIOOptions>? configure = null)
    {
        var options = new EngineIOOptions();
        configure?.Invoke(options);
        return new(options, socket);
    }

    /// <summary>A GET, answered when the session has something to send (bounded).</summary>
    public Task<(int Status, string Body)> PollAsync(CancellationToken aborted = default) =>
        SendAsync(NewRequest(HttpMethods.Get, aborted));

    /// <summary>A POST of <paramref name="body"/>.</summary>
    public Task<(int Status, string Body)> PostAsync(string body, string contentType = "text/plain; charset=UTF-8", bool declareLength = true)
    {
        var context = NewRequest(HttpMethods.Post);
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Request.ContentType = contentType;
        if (declareLength) context.Request.ContentLength = bytes.Length;
        context.Request.Body = new MemoryStream(bytes);
        return SendAsync(context);
    }

    /// <summary>A POST whose body arrives only as the test writes it to <paramref name="body"/>.</summary>
    public Task<(int Status, string Body)> PostStreamingAsync(Pipe body)
    {
        var context = NewRequest(HttpMethods.Post);
        context.Request.ContentType = "text/plain; charset=UTF-8";
        context.Request.Body = body.Reader.AsStream();
        return SendAsync(context);
    }

    public static DefaultHttpContext NewRequest(string method, CancellationToken aborted = default)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Response.Body = new MemoryStream();
        context.RequestAborted = aborted;
        return context;
    }

    private async Task<(int Status, string Body)> SendAsync(HttpContext context)
    {
        await Session.HandlePollingRequestAsync(context).WaitAsync(Patience);
        return (context.Response.StatusCode, Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
    }

    /// <summary>Waits (bounded) until a GET is held by the session.</summary>
    public async Task WaitForPendingPollAsync()
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!Session.IsWritable)
        {
            Assert.True(DateTime.UtcNow < deadline, "the poll was never held");
            await Task.Delay(5);
        }
    }

    /// <summary>Two WebSocket ends joined by in-memory pipes: the session's (server) and the test's (client).</summary>
    public static (WebSocketConnection Server, WebSocketConnection Client) NewWebSocketPair()
    {
        var toServer = new Pipe(new PipeOptions(useSynchronizationContext: false));
        var toClient = new Pipe(new PipeOptions(useSynchronizationContext: false));
        var server = new WebSocketConnection(new PipeEnds(toServer.Reader, toClient.Writer), WebSocketRole.Server);
        var client = new WebSocketConnection(new PipeEnds(toClient.Reader, toServer.Writer), WebSocketRole.Client);
        return (server, client);
    }

    private sealed class PipeEnds(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
