using System.Diagnostics;
using System.Text;
using Duplex.Protocol;
using Xunit.Abstractions;

namespace Duplex.Tests.Fuzz;

/// <summary>
/// Seeded fuzzing of the handshake parsers: whatever the bytes, the result is a parsed head, "need
/// more", a <see cref="WebSocketHandshakeException"/> or a <see cref="HandshakeRejection"/>.
/// </summary>
public class HandshakeFuzzTests(ITestOutputHelper output)
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";
    private static readonly string Accept = HandshakeKeys.ComputeAccept(Key);

    private static readonly string[] StatusLines =
    [
        "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 101", "HTTP/1.0 101 OK", "HTTP/1.1 200 OK", "HTTP/1.1 426 Upgrade Required",
        "HTTP/1.1 999 X", "HTTP/2 101", "HTTP/1.1 1O1 Typo", "", "HTTP/1.1 101 " + new string('r', 200),
    ];

    private static readonly string[] HeaderPool =
    [
        "Upgrade: websocket", "Upgrade: WebSocket", "Upgrade: h2c", "Connection: Upgrade", "Connection: keep-alive, upgrade",
        "Connection: close", "Sec-WebSocket-Accept: " + Accept, "Sec-WebSocket-Accept: " + Accept.ToLowerInvariant(),
        "Sec-WebSocket-Accept:", "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Protocol: other",
        "Sec-WebSocket-Protocol:", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Extensions: x-unknown", "Sec-WebSocket-Extensions: ,;,", "Sec-WebSocket-Extensions: ;", "Server: fuzz",
        "X-Long: " + new string('x', 1000), "Bad Header: x", "NoColon", ":", "Upgrade:\twebsocket\t",
    ];

    private static string RandomHead(Random rng)
    {
        bool good = rng.Next(2) == 0;
        var sb = new StringBuilder(good ? StatusLines[0] : StatusLines[rng.Next(StatusLines.Length)]).Append("\r\n");
        // Half start from a valid answer, so that mutations probe the accept path too.
        if (good) sb.Append("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ").Append(Accept).Append("\r\n");
        int headers = rng.Next(0, good ? 3 : 9);
        for (int i = 0; i < headers; i++) sb.Append(HeaderPool[rng.Next(HeaderPool.Length)]).Append("\r\n");
        if (rng.Next(50) == 0) sb.Append("X-Huge: ").Append('h', HttpResponseHead.MaxLength).Append("\r\n");
        return sb.Append("\r\n").ToString();
    }

    private static byte[] MutateText(Random rng, byte[] bytes)
    {
        if (rng.Next(3) == 0) return bytes;
        if (rng.Next(8) == 0)
        {
            var garbage = new byte[rng.Next(0, 400)];
            rng.NextBytes(garbage);
            return rng.Next(2) == 0 ? garbage : [.. garbage, .. "\r\n\r\n"u8];
        }
        return Fuzz.FuzzInput.Mutate(rng, bytes);
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    [InlineData(23)]
    [InlineData(24)]
    public void Response_parser_and_client_validation_only_parse_or_throw_handshake_exceptions(int seed)
    {
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        int parsed = 0, accepted = 0, malformed = 0, rejected = 0;
        for (int iteration = 0; iteration < 2000 && clock.Elapsed < TimeSpan.FromSeconds(10); iteration++)
        {
            var bytes = MutateText(rng, Encoding.Latin1.GetBytes(RandomHead(rng)));
            var what = $"seed {seed} iteration {iteration}: {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 200)))}";
            // Fed the way a client reads: the whole buffer so far, after each arrival.
            int received = 0;
            HttpResponseHead? head = null;
            try
            {
                while (received < bytes.Length)
                {
                    received = Math.Min(bytes.Length, received + rng.Next(1, 300));
                    if (HttpResponseHead.TryParse(bytes.AsSpan(0, received), out head, out int consumed))
                    {
                        Assert.True(consumed > 0 && consumed <= received, what);
                        Assert.True(bytes.AsSpan(consumed - 4, 4).SequenceEqual("\r\n\r\n"u8), what);
                        break;
                    }
                }
            }
            catch (WebSocketHandshakeException ex)
            {
                Assert.Equal(HandshakeCheck.MalformedResponse, ex.Check);
                malformed++;
                continue;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{what}: TryParse threw {ex}");
            }
            if (head is null) continue;
            parsed++;
            var handshake = new ClientHandshake(Key, rng.Next(2) == 0 ? [] : ["chat"], rng.Next(2) == 0 ? [] : ["permessage-deflate"]);
            try
            {
                var (subprotocol, _) = handshake.Validate(head);
                accepted++;
                // What the validator let through must really be a valid answer.
                Assert.Equal(101, head.StatusCode);
                Assert.Equal(Accept, head.Headers["Sec-WebSocket-Accept"]);
                Assert.True(subprotocol is null || subprotocol == "chat", what);
            }
            catch (WebSocketHandshakeException ex)
            {
                Assert.NotEqual(HandshakeCheck.MalformedResponse, ex.Check);
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{what}: Validate threw {ex}");
            }
        }
        output.WriteLine($"seed {seed}: parsed {parsed}, accepted {accepted}, rejected {rejected}, malformed {malformed}");
        Assert.True(accepted > 0 && rejected > 0 && malformed > 0, "the fuzzer missed an outcome");
    }

    private static readonly string?[] Values =
    [
        null, "", " ", "GET", "get", "POST", "HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/", "HTTP/1.1.1", "HTTP/99999999999999999999",
        "HTTP/-1.5", "HTTP/1.1 ", "websocket", "WebSocket, h2c", "Upgrade", "keep-alive, Upgrade", ",,,", "13", " 13 ", "13,13", "8",
        Key, " " + Key, "AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAAAA", "====================A===", "\0", "\r\n",
        "é", "😀", new string('k', 5000), "example.com", "[::1]:80",
    ];

    private static string? RandomValue(Random rng)
    {
        var v = Values[rng.Next(Values.Length)];
        if (v is null || rng.Next(3) != 0) return v;
        var bytes = Fuzz.FuzzInput.Mutate(rng, Encoding.UTF8.GetBytes(v));
        return rng.Next(2) == 0 ? Encoding.Latin1.GetString(bytes) : Encoding.UTF8.GetString(bytes);
    }

    private static IReadOnlyList<string?> RandomList(Random rng, string good) => rng.Next(6) switch
    {
        0 => [],
        1 => [RandomValue(rng), RandomValue(rng)],
        2 => [RandomValue(rng)],
        _ => [good],
    };

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(34)]
    public void Server_validation_only_accepts_or_rejects_with_400_or_426(int seed)
    {
        var rng = new Random(seed);
        int accepted = 0, rejected = 0;
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            var request = new HandshakeRequest
            {
                Method = rng.Next(4) == 0 ? RandomValue(rng) ?? "" : "GET",
                Protocol = rng.Next(4) == 0 ? RandomValue(rng) ?? "" : "HTTP/1.1",
                Host = RandomList(rng, "example.com"),
                Upgrade = RandomList(rng, "websocket"),
                Connection = RandomList(rng, "Upgrade"),
                Key = RandomList(rng, Key),
                Version = RandomList(rng, "13"),
                Protocols = RandomList(rng, "chat, superchat"),
            };
            HandshakeRejection? rejection;
            try
            {
                rejection = ServerHandshake.Validate(request);
                ServerHandshake.OfferedSubprotocols(request);
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed} iteration {iteration}: Validate threw {ex}");
                return;
            }
            if (rejection is HandshakeRejection r)
            {
                Assert.True(r.StatusCode is 400 or 426, $"status {r.StatusCode}");
                rejected++;
                continue;
            }
            accepted++;
            // What was accepted really is a WebSocket opening handshake.
            Assert.Equal("GET", request.Method);
            var key = Assert.Single(request.Key)!.Trim();
            Assert.Equal(16, Convert.FromBase64String(key).Length);
            Assert.Equal("13", Assert.Single(request.Version)!.Trim());
            Assert.False(string.IsNullOrWhiteSpace(Assert.Single(request.Host)));
            Assert.Equal(28, HandshakeKeys.ComputeAccept(key).Length);
        }
        output.WriteLine($"seed {seed}: accepted {accepted}, rejected {rejected}");
        Assert.True(accepted > 0 && rejected > 0);
    }
}
