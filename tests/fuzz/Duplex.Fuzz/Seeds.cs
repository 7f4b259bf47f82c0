using System.Buffers;
using System.Text;
using System.Text.Json;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Duplex.SocketIO;

namespace Duplex.Fuzz;

/// <summary>
/// Writes the seed corpora (<c>Duplex.Fuzz seeds tests/fuzz/corpus</c>): real inputs of each target, made by
/// Duplex's own encoders (frames as a peer writes them, Socket.IO packets) or taken from the wire (the RFC's
/// sample handshake, Node's redis-adapter messages in tests/Duplex.SocketIO.Redis.Tests/Fixtures). The files are
/// committed; the masking keys are random, so a rerun rewrites the frames with other keys.
/// </summary>
public static class Seeds
{
    public static void WriteAll(string corpus)
    {
        Write(corpus, "websocket", WebSocket());
        Write(corpus, "request-head", RequestHeads());
        Write(corpus, "response-head", ResponseHeads());
        Write(corpus, "deflate-negotiation", Negotiations());
        Write(corpus, "engineio", EngineIO());
        Write(corpus, "socketio", SocketIO());
        Write(corpus, "msgpack", MsgPackMessages(corpus));
    }

    private static void Write(string corpus, string target, IEnumerable<(string Name, byte[] Bytes)> seeds)
    {
        var dir = Path.Combine(corpus, target);
        Directory.CreateDirectory(dir);
        foreach (var (name, bytes) in seeds)
        {
            FuzzTargets.Get(target)!(bytes); // a seed must pass its own target
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    // ───────────── websocket: [config, chunk size] + the peer's frames

    private static IEnumerable<(string, byte[])> WebSocket()
    {
        var text = Utf8("héllo wörld ✓ ");
        var big = Utf8(string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog; ", 40)));
        yield return ("server-messages-ping-close", Frames(0x00, 0, p =>
        {
            p.Message(Opcode.Text, Utf8("hello"));
            p.Message(Opcode.Binary, [0, 1, 2, 0xff]);
            p.Ping(Utf8("p"));
            p.Message(Opcode.Text, []);
            p.Close(CloseStatus.NormalClosure, "bye");
        }));
        yield return ("server-fragments-in-chunks", Frames(0x00, 5, p =>
        {
            p.Fragment(Opcode.Text, text[..3], false);   // splits 'é'
            p.Ping([]);
            p.Fragment(Opcode.Text, text[3..], false);
            p.Fragment(Opcode.Text, text, true);
            p.Close(CloseStatus.GoingAway, "");
        }));
        yield return ("server-deflate", Frames(0x02, 0, p =>
        {
            p.Message(Opcode.Text, big);
            p.Message(Opcode.Text, big);      // context takeover: refers back
            p.Message(Opcode.Binary, Utf8("tiny"));
            p.Close(CloseStatus.NormalClosure, null);
        }));
        yield return ("server-deflate-no-context-9-bits-parts", Frames(0x02 | 0x04 | 0x08 | (2 << 4) | 0x40, 7, p =>
        {
            p.Message(Opcode.Binary, big);
            p.Message(Opcode.Text, big);
            p.Close(CloseStatus.NormalClosure, "done");
        }));
        yield return ("client-messages-close", Frames(0x01, 0, p =>
        {
            p.Message(Opcode.Text, text);
            p.Pong(Utf8("keepalive"));
            p.Message(Opcode.Binary, big);
            p.Close(CloseStatus.NormalClosure, "server done");
        }));
        yield return ("client-deflate-8-bits", Frames(0x03 | (1 << 4), 0, p =>
        {
            p.Message(Opcode.Text, big);
            p.Message(Opcode.Text, text);
            p.Close(CloseStatus.NormalClosure, null);
        }));
        yield return ("server-small-limits-too-many-fragments", Frames(0x80, 0, p =>
        {
            for (int i = 0; i < 10; i++) p.Fragment(Opcode.Binary, [(byte)i], i == 9);
            p.Close(CloseStatus.NormalClosure, null);
        }));
        // An unmasked frame to a server fails the connection (1002); the peer's close follows.
        var unmasked = Frames(0x01, 0, p => p.Message(Opcode.Text, Utf8("unmasked")))[2..];
        var close = Frames(0x00, 0, p => p.Close(CloseStatus.NormalClosure, null))[2..];
        yield return ("server-unmasked-frame", Cat([0x00, 0x00], unmasked, close));
    }

    /// <summary>Frames as the target's peer writes them: a client's (masked) for a server-role config, a server's for a client's.</summary>
    private static byte[] Frames(int config, byte chunk, Action<Peer> write)
    {
        var peerRole = (config & 1) != 0 ? WebSocketRole.Server : WebSocketRole.Client;
        PerMessageDeflateParameters? compression = null;
        if ((config & 2) != 0)
        {
            int bits = new[] { 15, 8, 9, 12 }[(config >> 4) & 3];
            compression = new((config & 4) != 0, (config & 8) != 0, bits, bits);
        }
        using var protocol = new WebSocketProtocol(peerRole, new WebSocketProtocolOptions { MinMessageSizeToCompress = 64 }, compression);
        var output = new ArrayBufferWriter<byte>();
        output.Write([(byte)config, chunk]);
        write(new Peer(protocol, output));
        return output.WrittenSpan.ToArray();
    }

    private readonly record struct Peer(WebSocketProtocol Protocol, ArrayBufferWriter<byte> Output)
    {
        public void Message(Opcode opcode, byte[] payload) => Protocol.WriteMessage(Output, opcode, payload);
        public void Fragment(Opcode opcode, byte[] payload, bool end) => Protocol.WriteFragment(Output, opcode, payload, end);
        public void Ping(byte[] payload) => Protocol.WritePing(Output, payload);
        public void Pong(byte[] payload) => Protocol.WritePong(Output, payload);
        public void Close(CloseStatus status, string? reason) => Protocol.WriteClose(Output, status, reason);
    }

    // ───────────── request-head

    private const string RfcRequest =
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n" +
        "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    private static IEnumerable<(string, byte[])> RequestHeads()
    {
        yield return ("rfc6455-sample", Utf8(RfcRequest));
        yield return ("browser-deflate", Utf8(
            "GET /ws?room=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive, Upgrade\r\nPragma: no-cache\r\n" +
            "Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0\r\nUpgrade: websocket\r\nOrigin: http://127.0.0.1:8080\r\n" +
            "Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n" +
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"));
        yield return ("socketio-websocket", Utf8(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost:3000\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n" +
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate\r\n\r\n"));
        yield return ("version-8", Utf8(RfcRequest.Replace("Version: 13", "Version: 8")));
        yield return ("post-with-body", Utf8("POST /chat HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"));
        yield return ("incomplete", Utf8(RfcRequest[..60]));
        yield return ("folded-header", Utf8(RfcRequest.Replace("Upgrade: websocket\r\n", "Upgrade:\r\n websocket\r\n")));
    }

    // ───────────── response-head: [offer config] + the server's bytes

    private const string Accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    private const string Switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + Accept + "\r\n";

    private static IEnumerable<(string, byte[])> ResponseHeads()
    {
        yield return ("101", Cat([0x00], Utf8(Switching + "\r\n")));
        yield return ("101-subprotocol", Cat([0x01], Utf8(Switching + "Sec-WebSocket-Protocol: chat\r\n\r\n")));
        yield return ("101-deflate", Cat([0x02], Utf8(Switching + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n")));
        yield return ("101-deflate-offered-limits", Cat([0x02 | (0b0101 << 2)],
            Utf8(Switching + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=8\r\n\r\n")));
        yield return ("101-then-frame", Cat([0x00], Utf8(Switching + "\r\n"), [0x81, 0x02, (byte)'h', (byte)'i']));
        yield return ("403", Cat([0x00], Utf8("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden")));
        yield return ("incomplete", Cat([0x00], Utf8("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")));
    }

    // ───────────── deflate-negotiation: [server options, client options] + Sec-WebSocket-Extensions lines

    private static IEnumerable<(string, byte[])> Negotiations()
    {
        yield return ("chrome-offer", Cat([0x00, 0x00], Utf8("permessage-deflate; client_max_window_bits")));
        yield return ("firefox-offer", Cat([0x00, 0x00], Utf8("permessage-deflate")));
        yield return ("no-context-takeover", Cat([0x03, 0x00], Utf8("permessage-deflate; server_no_context_takeover; client_no_context_takeover")));
        yield return ("two-offers-two-lines", Cat([0b0101, 0b1010],
            Utf8("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12, permessage-deflate\nx-webkit-deflate-frame")));
        yield return ("quoted-value", Cat([0x00, 0b110000], Utf8("permessage-deflate; client_max_window_bits=\"10\"")));
        yield return ("malformed-then-good", Cat([0x00, 0x00], Utf8("permessage-deflate; server_max_window_bits=07, foo; bar=\"b,az\", permessage-deflate")));
    }

    // ───────────── engineio: a polling body or a WebSocket text frame

    private static IEnumerable<(string, byte[])> EngineIO()
    {
        yield return ("open", Utf8("0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"));
        yield return ("probe", Utf8("2probe"));
        yield return ("message", Utf8("4hello ✓"));
        yield return ("payload-mixed", Utf8("4hello\u001e2\u001ebAQIDBA==\u001e6"));
        yield return ("socketio-in-payload", Utf8("40\u001e42[\"chat\",\"hi\"]\u001e41"));
        yield return ("binary-base64", Utf8("bAAECAwQFBgcICQ=="));
        yield return ("close", Utf8("1"));
    }

    // ───────────── socketio: [parser] + Engine.IO messages separated by 0x1E (0x00 first: binary)

    private static IEnumerable<(string, byte[])> SocketIO()
    {
        string[] texts =
        [
            "0{\"token\":\"abc\"}",
            "0/admin,",
            "2[\"chat message\",\"hello\",1,{\"a\":[true,null,2.5]}]",
            "2/admin,12[\"ask\",{\"a\":1}]",
            "312[\"ok\"]",
            "1/admin,",
            "4{\"message\":\"not authorized\"}",
        ];
        byte[] blob = [0, 1, 2, 3, 0xfe, 0xff];
        foreach (var (text, i) in texts.Select((t, i) => (t, i)))
            yield return ($"default-{i}", Cat([0x00], Utf8(text)));
        yield return ("default-binary-event", Cat([0x00], Utf8("51-[\"upload\",{\"_placeholder\":true,\"num\":0}]"), [0x1e, 0x00], blob));
        yield return ("default-binary-ack", Cat([0x00], Utf8("62-/admin,7[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"),
            [0x1e, 0x00], blob, [0x1e, 0x00], Utf8("second")));
        yield return ("default-two-packets", Cat([0x00], Utf8(texts[2]), [0x1e], Utf8(texts[3])));

        // The same packets as socket.io-msgpack-parser sends them: one binary message each.
        foreach (var (text, i) in texts.Select((t, i) => (t, i)))
        {
            SocketIOPacketParser.TryParse(text, out var packet);
            yield return ($"msgpack-{i}", Cat([0x01, 0x00], SocketIOParser.MsgPack.Encode(packet)[0].Binary!));
        }
        SocketIOPacketParser.TryParse("51-[\"upload\",{\"_placeholder\":true,\"num\":0}]", out var binary);
        binary.Attachments.Add(blob);
        yield return ("msgpack-binary-event", Cat([0x01, 0x00], SocketIOParser.MsgPack.Encode(binary)[0].Binary!));
    }

    // ───────────── msgpack: [kind: 0 broadcast, 1 request, 2 response, 3 a bare value] + the message

    private static IEnumerable<(string, byte[])> MsgPackMessages(string corpus)
    {
        var fixture = Path.Combine(corpus, "..", "..", "Duplex.SocketIO.Redis.Tests", "Fixtures", "node-redis-adapter.json");
        using var json = JsonDocument.Parse(File.ReadAllBytes(fixture));
        string[] picked =
        [
            "broadcast-all", "broadcast-binary", "broadcast-widths", "broadcast-namespace", "broadcast-rooms-except",
            "broadcast-ack-binary-request", "broadcast-ack-client-count", "broadcast-ack-binary-response",
            "fetch-sockets-request", "fetch-sockets-response", "sockets-join", "server-side-emit", "all-rooms-response",
        ];
        foreach (var message in json.RootElement.GetProperty("messages").EnumerateArray())
        {
            var name = message.GetProperty("name").GetString()!;
            if (!picked.Contains(name)) continue;
            var channel = message.GetProperty("channel").GetString()!;
            byte kind = channel.Contains("-request#") ? (byte)1 : channel.Contains("-response#") ? (byte)2 : (byte)0;
            var bytes = Convert.FromHexString(message.GetProperty("hex").GetString()!);
            yield return ($"node-{name}", Cat([kind], bytes));
            if (name == "broadcast-binary") yield return ("bare-broadcast-binary", Cat([3], bytes));
        }
    }
}
