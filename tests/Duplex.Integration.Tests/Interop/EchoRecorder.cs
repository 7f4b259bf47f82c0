using System.Collections.Concurrent;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;

namespace Duplex.Integration.Tests.Interop;

/// <summary>What a Duplex server endpoint saw on one connection: the messages and how it ended.</summary>
internal sealed class ServerSideConnection
{
    public ConcurrentQueue<(WebSocketMessageType Type, byte[] Data)> Messages { get; } = new();
    public CloseStatus? CloseStatus { get; set; }
    public string? CloseStatusDescription { get; set; }
    public WebSocketState State { get; set; }
    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A Duplex server whose /echo endpoint echoes and records every connection, so a test can check
/// the peer's side of the exchange against the server's. The text "close-me" makes the server close
/// with 4002, so peers also see a server-initiated close.
/// </summary>
internal sealed class EchoRecorder : IAsyncDisposable
{
    public const CloseStatus ServerCloseStatus = (CloseStatus)4002;
    public const string ServerCloseReason = "server says bye ✓";

    private EchoRecorder(TestServer server) => Server = server;

    public TestServer Server { get; }

    public ConcurrentQueue<ServerSideConnection> Connections { get; } = new();

    public static async Task<EchoRecorder> StartAsync()
    {
        EchoRecorder? recorder = null;
        var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async connection =>
        {
            var seen = new ServerSideConnection();
            recorder!.Connections.Enqueue(seen);
            try
            {
                await foreach (var message in connection.ReadMessagesAsync())
                {
                    seen.Messages.Enqueue((message.Type, message.ToArray()));
                    if (message.IsText && message.Text == "close-me")
                    {
                        await connection.CloseAsync(ServerCloseStatus, ServerCloseReason);
                        break;
                    }
                    await connection.SendAsync(message);
                }
                await connection.Completion;
            }
            finally
            {
                seen.CloseStatus = connection.CloseStatus;
                seen.CloseStatusDescription = connection.CloseStatusDescription;
                seen.State = connection.State;
                seen.Ended.TrySetResult();
            }
        }));
        recorder = new EchoRecorder(server);
        return recorder;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
