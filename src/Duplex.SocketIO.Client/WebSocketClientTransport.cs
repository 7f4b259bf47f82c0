using System.Threading.Channels;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// A WebSocket carrying the session: each packet one message (text, or binary for binary messages),
/// read by one loop and sent as the session's queue fills.
/// </summary>
internal sealed class WebSocketClientTransport : EngineIOClientTransport
{
    private readonly WebSocketConnection _socket;
    // One enumerator for the life of the WebSocket: the open packet or the probe, then the read loop.
    private readonly IAsyncEnumerator<WebSocketMessage> _messages;

    private WebSocketClientTransport(EngineIOClientSession session, WebSocketConnection socket) : base(session)
    {
        _socket = socket;
        _messages = socket.ReadMessagesAsync(session.Lifetime).GetAsyncEnumerator(session.Lifetime);
    }

    public override string Name => "websocket";

    /// <summary>Opens the WebSocket to the session's endpoint (with the session's id once it has one).</summary>
    internal static async Task<WebSocketClientTransport> ConnectAsync(EngineIOClientSession session, CancellationToken cancellationToken)
    {
        var options = new WebSocketClientOptions
        {
            ConnectTimeout = session.Options.ConnectTimeout,
            Logger = session.Options.Logger,
            UseProxy = session.Options.UseProxy,
            Proxy = session.Options.Proxy,
            Cookies = session.Options.Cookies,
        };
        // Engine.IO has its own heartbeat; the WebSocket one would only duplicate it.
        options.Connection.KeepAliveInterval = TimeSpan.Zero;
        foreach (var (name, value) in session.Options.ExtraHeaders) options.AddHeader(name, value);
        session.Options.ConfigureWebSocket?.Invoke(options);
        var socket = await WebSocketClient.ConnectAsync(session.TransportUri("websocket"), options, cancellationToken).ConfigureAwait(false);
        return new WebSocketClientTransport(session, socket);
    }

    /// <summary>The handshake over WebSocket: the server's first message, which must be the open packet.</summary>
    internal async Task<EnginePacket> ReceiveOpenAsync(CancellationToken cancellationToken)
    {
        using var abort = AbortOn(cancellationToken);
        if (!await _messages.MoveNextAsync().ConfigureAwait(false))
            throw new SocketIOProtocolException("the server closed the WebSocket before the Engine.IO open packet");
        var message = _messages.Current;
        if (!message.IsText || !EnginePacket.TryParse(message.Text, out var open))
            throw new SocketIOProtocolException($"the server's first WebSocket message is not an Engine.IO packet: {EngineIOClientSession.Describe(message.IsText ? message.Text : "<binary>")}");
        return open;
    }

    /// <summary>The probe of an upgrade: <c>2probe</c> out, <c>3probe</c> expected back.</summary>
    internal async Task ProbeAsync(CancellationToken cancellationToken)
    {
        await _socket.SendTextAsync("2probe", cancellationToken).ConfigureAwait(false);
        if (!await _messages.MoveNextAsync().ConfigureAwait(false) || !_messages.Current.IsText || _messages.Current.Text != "3probe")
            throw new SocketIOProtocolException("the server did not answer the WebSocket probe with 3probe");
    }

    /// <summary>Completes the upgrade: <c>5</c> tells the server to move the session to this WebSocket.</summary>
    internal Task SendUpgradeAsync(CancellationToken cancellationToken) => _socket.SendTextAsync("5", cancellationToken).AsTask();

    /// <summary>Aborts the WebSocket if <paramref name="cancellationToken"/> fires before the registration is disposed.</summary>
    internal CancellationTokenRegistration AbortOn(CancellationToken cancellationToken) =>
        cancellationToken.Register(static s => ((WebSocketConnection)s!).Abort(), _socket);

    internal void Abort() => _socket.Abort();

    public override void Start() => _ = Task.Run(ReadLoopAsync);

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _messages.MoveNextAsync().ConfigureAwait(false))
            {
                var message = _messages.Current;
                EnginePacket packet;
                if (message.IsText)
                {
                    if (!EnginePacket.TryParseUtf8(message.Data.Span, out packet))
                    {
                        Session.Close("parse error", new SocketIOProtocolException($"a WebSocket message is not an Engine.IO packet: {EngineIOClientSession.Describe(message.Text)}"));
                        return;
                    }
                }
                else
                {
                    packet = EnginePacket.Message(message.ToArray());
                }
                Session.OnPacket(packet);
            }
            Session.Close("transport close", null);
        }
        catch (Exception ex)
        {
            Session.Close("transport error", ex);
        }
    }

    public override async Task SendQueuedAsync(ChannelReader<EnginePacket> queued, CancellationToken cancellationToken)
    {
        while (queued.TryRead(out var packet))
        {
            Session.OnDequeued();
            if (packet.Binary is { } bytes) await _socket.SendBinaryAsync(bytes, cancellationToken).ConfigureAwait(false);
            else await _socket.SendTextAsync(packet.ToPollingText(), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A polite close when we can; nothing waits for it.</summary>
    public override void Release() =>
        _ = _socket.DisposeAsync().AsTask().ContinueWith(static _ => { }, TaskScheduler.Default);
}
