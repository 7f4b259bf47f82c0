using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// `duplex connect`'s flags and `duplex listen`, each run as the real process against a real peer:
/// Node's ws echo server, the Node CONNECT proxy, and each other over TCP and a Unix socket.
/// </summary>
public sealed partial class CliClientTests(NodeWsServer ws, ConnectProxy proxy) : IClassFixture<NodeWsServer>, IClassFixture<ConnectProxy>
{
    private static PeerProcess Duplex(params string[] arguments) => PeerProcess.Start(InteropPeers.Dotnet, [InteropPeers.DuplexCliDll, .. arguments]);

    private string Echo => ws.Uri("/echo").ToString();

    /// <summary>The lines a finished process printed on stdout that start with "&lt; ".</summary>
    private static async Task<List<string>> ReceivedAsync(PeerProcess process)
    {
        var lines = new List<string>();
        try
        {
            while (true) lines.Add(await process.ReadLineAsync(TimeSpan.FromSeconds(20)));
        }
        catch (InvalidOperationException)
        {
            // stdout ended: the process is done.
        }
        return lines;
    }

    [Theory]
    [InlineData("--hex", "48656c6c6f2c20776f726c64", "< 48656C6C6F2C20776F726C64")]
    [InlineData("--base64", "SGVsbG8sIHdvcmxk", "< SGVsbG8sIHdvcmxk")]
    [InlineData("--binary", "Hello, world", "< <binary 12 bytes> 48656C6C6F2C20776F726C64")]
    public async Task Binary_input_goes_out_as_binary_and_comes_back_printed_the_same_way(string flag, string line, string expected)
    {
        await using var connect = Duplex("connect", Echo, flag, "--wait", "1", "--quiet");
        await connect.WriteLineAsync(line);
        var lines = await ReceivedAsync(connect);
        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Equal([expected], lines);
    }

    [Fact]
    public async Task A_line_that_is_not_hex_is_reported_and_not_sent()
    {
        await using var connect = Duplex("connect", Echo, "--hex", "--wait", "1", "--quiet");
        await connect.WriteLineAsync("zz-not-hex");
        await connect.WriteLineAsync("01ff");
        Assert.Equal(["< 01FF"], await ReceivedAsync(connect));
        Assert.Contains("not hex: 'zz-not-hex' (not sent)", connect.StandardError);
    }

    [Fact]
    public async Task A_file_goes_out_as_one_binary_message()
    {
        var path = Path.GetTempFileName();
        var bytes = RandomNumberGenerator.GetBytes(100_000);
        await File.WriteAllBytesAsync(path, bytes);
        try
        {
            await using var connect = Duplex("connect", Echo, "--file", path, "--wait", "1", "--quiet");
            var line = Assert.Single(await ReceivedAsync(connect));
            Assert.Equal($"< <binary 100000 bytes> {Convert.ToHexString(bytes, 0, 32)}…", line);
            Assert.Equal(0, await connect.WaitForExitAsync());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Json_is_printed_indented_and_control_characters_escaped()
    {
        await using var connect = Duplex("connect", Echo, "--json", "--wait", "2", "--quiet");
        await connect.WriteLineAsync("{\"user\":\"ada\",\"tags\":[1,2]}");
        await connect.WriteLineAsync("\u001b]0;pwned\u0007\u001b[31mred\u009b");
        var lines = await ReceivedAsync(connect);
        Assert.Equal(["< {", "  \"user\": \"ada\",", "  \"tags\": [", "    1,", "    2", "  ]", "}", @"< \e]0;pwned\x07\e[31mred\u{9b}"], lines);
        Assert.DoesNotContain(lines, l => l.Any(c => c < 0x20 || c is >= '\u007f' and <= '\u009f'));
    }

    [Fact]
    public async Task Show_headers_prints_the_servers_101_answer()
    {
        await using var connect = Duplex("connect", Echo, "--show-headers", "--quiet", "--wait", "1");
        await connect.WriteLineAsync("hi");
        Assert.Equal(["< hi"], await ReceivedAsync(connect));
        var stderr = connect.StandardError;
        Assert.Contains("HTTP/1.1 101 Switching Protocols", stderr);
        Assert.Matches(new Regex(@"^Sec-WebSocket-Accept: [A-Za-z0-9+/=]{28}$", RegexOptions.Multiline | RegexOptions.IgnoreCase), stderr.Replace("\r", ""));
    }

    [Fact]
    public async Task Ping_interval_prints_each_round_trip()
    {
        await using var connect = Duplex("connect", Echo, "--ping-interval", "0.2", "--quiet");
        Assert.True(await connect.WaitForStandardErrorAsync(l => PingLine().IsMatch(l) && connect.StandardError.Split('\n').Count(x => PingLine().IsMatch(x.TrimEnd('\r'))) >= 3, TimeSpan.FromSeconds(20)),
            "three ping lines: " + connect.Transcript);
        connect.CloseInput();
        Assert.Equal(0, await connect.WaitForExitAsync());
    }

    [GeneratedRegex(@"^ping: \d+(\.\d+)? ms$")]
    private static partial Regex PingLine();

    [Fact]
    public async Task Wait_closes_after_that_many_messages_even_with_stdin_open_and_count_tells_them()
    {
        await using var connect = Duplex("connect", Echo, "--wait", "2", "--count", "--quiet");
        await connect.WriteLineAsync("one");
        await connect.WriteLineAsync("two");
        await connect.WriteLineAsync("three");
        // stdin is never closed: --wait alone ends it.
        Assert.Equal(["< one", "< two"], await ReceivedAsync(connect));
        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Matches(new Regex(@"^received 2 messages in [\d.]+ s \([\d.]+/s\)$", RegexOptions.Multiline), connect.StandardError.Replace("\r", ""));
    }

    [Fact]
    public async Task Proxy_flag_tunnels_through_the_proxy_and_no_proxy_ignores_the_environment()
    {
        await using (var connect = Duplex("connect", Echo, "--proxy", $"http://127.0.0.1:{proxy.Port}", "--wait", "1", "--quiet"))
        {
            await connect.WriteLineAsync("via --proxy");
            Assert.Equal(["< via --proxy"], await ReceivedAsync(connect));
        }
        await proxy.WaitForEventAsync(e => e.TryGetProperty("event", out var ev) && ev.GetString() == "connect" && e.GetProperty("target").GetString() == ws.Uri("/").Authority);

        var info = new System.Diagnostics.ProcessStartInfo(InteropPeers.Dotnet) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { InteropPeers.DuplexCliDll, "connect", Echo, "--no-proxy", "--wait", "1", "--quiet" }) info.ArgumentList.Add(a);
        info.Environment["HTTP_PROXY"] = "http://127.0.0.1:1"; // dead: used, it would fail the connect
        using var direct = System.Diagnostics.Process.Start(info)!;
        await direct.StandardInput.WriteLineAsync("direct");
        await direct.StandardInput.FlushAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await direct.StandardOutput.ReadToEndAsync(cts.Token);
        await direct.WaitForExitAsync(cts.Token);
        Assert.Equal(0, direct.ExitCode);
        Assert.Equal("< direct", output.Trim());
    }

    [Fact]
    public async Task Listen_prints_what_clients_send_and_sends_its_stdin_to_every_one()
    {
        await using var listen = Duplex("listen", "127.0.0.1:0");
        Assert.True(await listen.WaitForStandardErrorAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(30)), listen.Transcript);
        var port = ListeningLine().Match(listen.StandardError).Groups[1].Value;
        var uri = new Uri($"ws://127.0.0.1:{port}/anything");
        await using var a = await WebSocketClient.ConnectAsync(uri);
        await using var b = await WebSocketClient.ConnectAsync(uri);

        await a.SendTextAsync("from a");
        var fromA = Regex.Match(await listen.ReadLineAsync(), @"^\[(\d+)\] < from a$");
        Assert.True(fromA.Success);
        await b.SendBinaryAsync(new byte[] { 1, 2, 3 });
        var fromB = Regex.Match(await listen.ReadLineAsync(), @"^\[(\d+)\] < <binary 3 bytes> 010203$");
        Assert.True(fromB.Success);
        Assert.NotEqual(fromA.Groups[1].Value, fromB.Groups[1].Value); // told apart by connection

        await listen.WriteLineAsync("to everyone");
        Assert.Equal("to everyone", await NextTextAsync(a));
        Assert.Equal("to everyone", await NextTextAsync(b));

        await a.CloseAsync();
        Assert.True(await listen.WaitForStandardErrorAsync(l => l == $"[{fromA.Groups[1].Value}] closed: 1000", TimeSpan.FromSeconds(10)), listen.Transcript);
    }

    [GeneratedRegex(@"listening on ws://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();

    [Fact]
    public async Task Connect_and_listen_meet_on_a_unix_socket()
    {
        var path = Path.Combine(Path.GetTempPath(), $"duplex-cli-{Guid.NewGuid():N}.sock");
        try
        {
            await using var listen = Duplex("listen", "--unix", path, "--echo");
            Assert.True(await listen.WaitForStandardErrorAsync(l => l.StartsWith("listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(30)), listen.Transcript);
            await using var connect = Duplex("connect", "ws://localhost/chat", "--unix", path, "--wait", "1", "--quiet");
            await connect.WriteLineAsync("over the socket");
            Assert.Equal(["< over the socket"], await ReceivedAsync(connect));
            Assert.Equal("[1] < over the socket", await listen.ReadLineAsync());

            await using var byUri = Duplex("connect", $"ws+unix://{path}:/chat", "--wait", "1", "--quiet");
            await byUri.WriteLineAsync("by uri");
            Assert.Equal(["< by uri"], await ReceivedAsync(byUri));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<string> NextTextAsync(WebSocketConnection client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var message in client.ReadMessagesAsync(cts.Token)) return message.Text;
        throw new InvalidOperationException("the connection ended before a message came");
    }
}
