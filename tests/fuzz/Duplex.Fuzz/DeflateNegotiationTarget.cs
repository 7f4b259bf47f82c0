using System.Buffers;
using System.Text;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex.Fuzz;

/// <summary>
/// permessage-deflate negotiation (RFC 7692): the server reading the client's offers
/// (<see cref="PerMessageDeflateNegotiation.TryAcceptOffer"/>, <see cref="ExtensionHeader.Parse(IEnumerable{string?})"/>)
/// and the client judging the server's answer (<see cref="PerMessageDeflateNegotiation.TryAcceptResponse"/>).
/// <para>Input: byte 0 the server's options, byte 1 the client's (see <see cref="Options"/>), then
/// Sec-WebSocket-Extensions text (Latin-1), one header line per '\n': the client's offers to the server, and as a
/// whole the server's answer to the client. Documented outcomes: false (no offer accepted; a response refused
/// with an error). Checked: whatever is agreed works, a message compressed by one side under it inflates on the
/// other, both ways; the server's response element is well-formed; and the server accepts the client's own offer
/// with a response the client accepts, both sides agreeing on the same parameters.</para>
/// </summary>
public static class DeflateNegotiationTarget
{
    /// <summary>
    /// Options from six bits: 0 server_no_context_takeover, 1 client_no_context_takeover, 2–3 server_max_window_bits
    /// (15, 8, 10, 12), 4–5 client_max_window_bits (the same).
    /// </summary>
    public static PerMessageDeflateOptions Options(byte bits) => new()
    {
        Enabled = true,
        ServerNoContextTakeover = (bits & 1) != 0,
        ClientNoContextTakeover = (bits & 2) != 0,
        ServerMaxWindowBits = WindowBits[(bits >> 2) & 3],
        ClientMaxWindowBits = WindowBits[(bits >> 4) & 3],
    };

    private static readonly int[] WindowBits = [15, 8, 10, 12];

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2) return;
        var server = Options(input[0]);
        var client = Options(input[1]);
        var text = Encoding.Latin1.GetString(input[2..]);
        string?[] lines = text.Split('\n');

        _ = ExtensionHeader.Parse(lines);
        if (PerMessageDeflateNegotiation.TryAcceptOffer(lines, server, out var agreed, out var response))
        {
            if (agreed is null || response is null) throw new FuzzInvariantException("accepted without parameters or a response");
            CheckResponse(response);
            RoundTrip(agreed);
        }
        if (PerMessageDeflateNegotiation.TryAcceptResponse(text, client, out var accepted, out var error))
        {
            if (accepted is not null) RoundTrip(accepted);
        }
        else if (error is null) throw new FuzzInvariantException("response refused without an error");

        // Our own client's offer, to our own server: accepted, and the answer accepted, with one view of the result.
        var offer = PerMessageDeflateNegotiation.CreateOffer(client)!;
        if (!PerMessageDeflateNegotiation.TryAcceptOffer([offer], server, out var serverView, out var answer))
            throw new FuzzInvariantException($"the server declined our offer '{offer}'");
        if (!PerMessageDeflateNegotiation.TryAcceptResponse(answer, client, out var clientView, out error))
            throw new FuzzInvariantException($"the client refused '{answer}' to its offer '{offer}': {error}");
        if (clientView != serverView) throw new FuzzInvariantException($"'{offer}' → '{answer}': server {serverView}, client {clientView}");
    }

    private static void CheckResponse(string response)
    {
        var elements = ExtensionHeader.Parse(response);
        if (elements.Count != 1 || !elements[0].IsWellFormed || elements[0].Name != PerMessageDeflateNegotiation.ExtensionName)
            throw new FuzzInvariantException($"response '{response}' is not one permessage-deflate element");
    }

    private static readonly WebSocketProtocolOptions Compressing = new() { MinMessageSizeToCompress = 0 };
    private static readonly byte[] Text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("permessage-deflate round trip, ", 20)));

    /// <summary>Two messages each way between a client and a server that agreed <paramref name="agreed"/>: each arrives as sent.</summary>
    public static void RoundTrip(PerMessageDeflateParameters agreed)
    {
        using var client = new WebSocketProtocol(WebSocketRole.Client, Compressing, agreed);
        using var server = new WebSocketProtocol(WebSocketRole.Server, Compressing, agreed);
        for (int i = 0; i < 2; i++)
        {
            Send(client, server);
            Send(server, client);
        }
    }

    private static void Send(WebSocketProtocol from, WebSocketProtocol to)
    {
        var wire = new ArrayBufferWriter<byte>();
        from.WriteMessage(wire, Opcode.Text, Text);
        var input = new ReadOnlySequence<byte>(wire.WrittenMemory);
        var ev = to.Receive(ref input);
        if (ev != WebSocketEvent.Message) throw new FuzzInvariantException($"{ev} ({to.Error}) for a message compressed under {from.Compression}");
        var message = to.TakeMessage(out int length);
        bool same = message is not null && message.AsSpan(0, length).SequenceEqual(Text);
        if (message is not null) ArrayPool<byte>.Shared.Return(message);
        if (!same) throw new FuzzInvariantException($"a message compressed under {from.Compression} inflated to other bytes");
    }
}
