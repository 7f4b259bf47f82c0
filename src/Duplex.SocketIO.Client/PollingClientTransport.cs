using System.Net;
using System.Text;
using System.Threading.Channels;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// HTTP long-polling from the client: a loop of GETs, each answered with a payload when the server has
/// packets (or a noop), and a POST per batch of outgoing packets, at most the server's
/// <c>maxPayload</c> long.
/// </summary>
internal sealed class PollingClientTransport : EngineIOClientTransport
{
    private readonly HttpClient _http;
    private readonly List<EnginePacket> _batch = []; // the session sends one batch at a time
    private volatile bool _paused;
    private Task _polling = Task.CompletedTask;

    internal PollingClientTransport(EngineIOClientSession session, HttpClient http) : base(session) => _http = http;

    public override string Name => "polling";

    /// <summary>The handshake GET: the open packet and whatever the server sent with it.</summary>
    internal async Task<List<EnginePacket>> HandshakeAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.SendAsync(NewRequest(HttpMethod.Get), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new SocketIOProtocolException($"the handshake was answered HTTP {(int)response.StatusCode}: {EngineIOClientSession.Describe(body)}")
            {
                TransportUnknown = response.StatusCode == HttpStatusCode.BadRequest && IsTransportUnknown(body),
            };
        if (!EnginePayload.TryDecode(body, out var packets))
            throw new SocketIOProtocolException($"the handshake answer is not an Engine.IO payload: {EngineIOClientSession.Describe(body)}");
        return packets;
    }

    // Engine.IO's refusal of a transport the server does not serve: 400 {"code":0,"message":"Transport unknown"}.
    private static bool IsTransportUnknown(string body)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            return json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && json.RootElement.TryGetProperty("code", out var code) && code.ValueKind == System.Text.Json.JsonValueKind.Number
                && code.TryGetInt32(out int value) && value == 0;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    public override void Start() => _polling = Task.Run(PollLoopAsync);

    /// <summary>
    /// Sends no new GET once the pending one returns (during an upgrade the server releases it with a
    /// noop); the task completes when polling has stopped.
    /// </summary>
    internal Task PauseAsync()
    {
        _paused = true;
        return _polling;
    }

    private async Task PollLoopAsync()
    {
        var token = Session.Lifetime;
        while (!_paused && Session.IsOpen)
        {
            string body;
            try
            {
                using var response = await _http.SendAsync(NewRequest(HttpMethod.Get), HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
                body = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Session.Close("transport error", new SocketIOProtocolException($"a poll was answered HTTP {(int)response.StatusCode}: {EngineIOClientSession.Describe(body)}"));
                    return;
                }
            }
            catch (Exception ex)
            {
                Session.Close("transport error", ex);
                return;
            }
            if (!EnginePayload.TryDecode(body, out var packets))
            {
                Session.Close("parse error", new SocketIOProtocolException($"a poll returned something that is not an Engine.IO payload: {EngineIOClientSession.Describe(body)}"));
                return;
            }
            foreach (var packet in packets) Session.OnPacket(packet);
        }
    }

    /// <summary>One POST carries what is queued, up to the server's maxPayload (but always one packet).</summary>
    public override async Task SendQueuedAsync(ChannelReader<EnginePacket> queued, CancellationToken cancellationToken)
    {
        var batch = _batch;
        batch.Clear();
        long size = 0;
        while (queued.TryPeek(out var next))
        {
            long length = next.ToPollingText().Length + 1;
            if (batch.Count > 0 && size + length > Session.MaxPayload) break;
            queued.TryRead(out _);
            Session.OnDequeued();
            batch.Add(next);
            size += length;
        }
        using var response = await _http.SendAsync(NewRequest(HttpMethod.Post, EnginePayload.Encode(batch)), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new SocketIOProtocolException($"a POST was answered HTTP {(int)response.StatusCode}: {EngineIOClientSession.Describe(body)}");
        }
    }

    /// <summary>Nothing to let go of: the HTTP client belongs to the <see cref="SocketIOClient"/>.</summary>
    public override void Release()
    {
    }

    private HttpRequestMessage NewRequest(HttpMethod method, string? body = null)
    {
        var request = new HttpRequestMessage(method, Session.TransportUri(Name));
        foreach (var (name, value) in Session.Options.ExtraHeaders) request.Headers.TryAddWithoutValidation(name, value);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        return request;
    }
}
