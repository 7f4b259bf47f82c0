using System.Text;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.EngineIO;

namespace Duplex.Fuzz;

/// <summary>
/// The Engine.IO v4 parsers, text and binary: a polling body as the server reads it (strict UTF-8, then
/// <see cref="EnginePayload.TryDecode"/>, <c>b</c> + base64 for binary), a WebSocket text frame
/// (EnginePacket.TryParseUtf8; the WebSocket layer has checked its UTF-8) and the same text as the client
/// parses its first message (<see cref="EnginePacket.TryParse"/>, then an open packet's JSON as the client reads it).
/// <para>Input: the body or frame. Documented outcomes: false (a parse error: the server closes the session
/// with "parse error"), a <see cref="DecoderFallbackException"/>-free decode (invalid UTF-8 reads as an empty
/// body), <see cref="SocketIOProtocolException"/> for an open packet the client cannot use. Checked: decoded
/// packets encode to a payload that decodes to the same packets; an accepted open packet's heartbeat fits a timer.</para>
/// </summary>
public static class EngineIOTarget
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    public static void Run(ReadOnlySpan<byte> input)
    {
        string text;
        try
        {
            text = Strict.GetString(input);
        }
        catch (DecoderFallbackException)
        {
            text = ""; // as PollingTransport reads a body that is not UTF-8
        }
        if (EnginePayload.TryDecode(text, out var packets)) CheckRoundTrip(packets);

        if (System.Text.Unicode.Utf8.IsValid(input) && EnginePacket.TryParseUtf8(input, out var frame))
        {
            if (frame.IsBinary || frame.Text != text[1..]) throw new FuzzInvariantException("the UTF-8 parse differs from the text parse");
        }
        if (EnginePacket.TryParse(text, out var first))
        {
            if (first.Text is null && !first.IsBinary) throw new FuzzInvariantException("a packet without text or binary");
            if (first.Type == EnginePacketType.Open && !first.IsBinary) ReadOpen(first);
        }
    }

    /// <summary>As the client reads the server's first packet; the heartbeat's timer must take what it accepts.</summary>
    private static void ReadOpen(EnginePacket open)
    {
        EngineIOClientSession.OpenHandshake handshake;
        try
        {
            handshake = EngineIOClientSession.ParseOpenPacket(open);
        }
        catch (SocketIOProtocolException)
        {
            return;
        }
        using var timer = new Timer(_ => { });
        timer.Change(handshake.PingInterval + handshake.PingTimeout, Timeout.InfiniteTimeSpan);
    }

    private static void CheckRoundTrip(List<EnginePacket> packets)
    {
        if (packets.Count == 0) throw new FuzzInvariantException("a payload of no packets decoded");
        var encoded = EnginePayload.Encode(packets);
        if (!EnginePayload.TryDecode(encoded, out var again) || again.Count != packets.Count)
            throw new FuzzInvariantException($"re-encoded payload '{encoded}' does not decode to {packets.Count} packets");
        for (int i = 0; i < packets.Count; i++)
        {
            var a = packets[i];
            var b = again[i];
            if (a.Type != b.Type || a.Text != b.Text || a.IsBinary != b.IsBinary || a.IsBinary && !a.Binary.AsSpan().SequenceEqual(b.Binary))
                throw new FuzzInvariantException($"packet {i} ({a}) came back as {b}");
        }
    }
}
