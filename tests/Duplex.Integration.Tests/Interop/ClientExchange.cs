using System.Text;

namespace Duplex.Integration.Tests.Interop;

/// <summary>The messages the Duplex client sends to an echoing peer server, and how to check the echo.</summary>
internal static class ClientExchange
{
    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)(i * 31 + seed);
        return bytes;
    }

    // Sizes at the edges of the three payload-length encodings (RFC 6455 §5.2), and a large one.
    public static TheoryData<string, bool, int> Messages => new()
    {
        { "text", false, 0 },
        { "text-unicode", false, 0 },
        { "text-empty", false, 0 },
        { "binary-empty", true, 0 },
        { "binary", true, 125 },
        { "binary", true, 126 },
        { "binary", true, 65535 },
        { "binary", true, 65536 },
        { "text-large", false, 65536 },
        { "binary", true, 1 << 20 },
    };

    public static (WebSocketMessageType Type, byte[] Data) Build(string kind, bool binary, int length) => kind switch
    {
        "text" => (WebSocketMessageType.Text, Encoding.UTF8.GetBytes("hello")),
        "text-unicode" => (WebSocketMessageType.Text, Encoding.UTF8.GetBytes("héllo ✓ 🎉 ünïcödé")),
        "text-empty" => (WebSocketMessageType.Text, []),
        "text-large" => (WebSocketMessageType.Text, Encoding.UTF8.GetBytes(new string('é', length / 2))),
        _ when binary => (WebSocketMessageType.Binary, Pattern(length, length)),
        _ => throw new ArgumentException(kind),
    };

    /// <summary>Sends the message and asserts the next one received is the same, byte for byte, same type.</summary>
    public static async Task AssertEchoedAsync(WebSocketConnection client, WebSocketMessageType type, byte[] data)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.SendAsync(data, type, timeout.Token);
        var echo = await NextAsync(client, timeout.Token);
        Assert.Equal(type, echo.Type);
        Assert.Equal(data.Length, echo.Data.Length);
        Assert.True(data.AsSpan().SequenceEqual(echo.Data), "the echo differs from what was sent");
    }

    /// <summary>The next message, copied out of the connection's buffer.</summary>
    public static async Task<(WebSocketMessageType Type, byte[] Data)> NextAsync(WebSocketConnection client, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await foreach (var message in client.ReadMessagesAsync(timeout.Token))
            return (message.Type, message.ToArray());
        throw new InvalidOperationException($"the connection ended ({client.CloseStatus} {client.CloseStatusDescription}) before a message came");
    }

    public static async Task<string> NextTextAsync(WebSocketConnection client)
    {
        var (type, data) = await NextAsync(client);
        Assert.Equal(WebSocketMessageType.Text, type);
        return Encoding.UTF8.GetString(data);
    }

    /// <summary>Waits, bounded, for the read loop to see the end of the connection.</summary>
    public static async Task AssertEndsAsync(WebSocketConnection client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var message in client.ReadMessagesAsync(timeout.Token))
            Assert.Fail($"unexpected message after the close: {message}");
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Sends text in fragments split inside '✓' (E2 9C 93), with a ping between two of them (RFC 6455
    /// §5.4: control frames may be injected in the middle of a fragmented message), and asserts the
    /// peer echoes it whole.
    /// </summary>
    public static async Task AssertFragmentedTextEchoedAsync(WebSocketConnection client)
    {
        var check = Encoding.UTF8.GetBytes("✓");
        await using (var writer = await client.BeginMessageAsync(WebSocketMessageType.Text))
        {
            await writer.WriteAsync((byte[])[.. "frag"u8, check[0], check[1]]);
            await client.PingAsync("mid-message"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(10));
            await writer.WriteAsync(ReadOnlyMemory<byte>.Empty);
            await writer.CompleteAsync((byte[])[check[2], .. "ment"u8]);
        }
        Assert.Equal("frag✓ment", await NextTextAsync(client));
    }

    public static async Task AssertFragmentedBinaryEchoedAsync(WebSocketConnection client)
    {
        var parts = new[] { Pattern(1000, 1), Pattern(70000, 2), Pattern(1, 3) };
        await using (var writer = await client.BeginMessageAsync(WebSocketMessageType.Binary))
        {
            foreach (var part in parts) await writer.WriteAsync(part);
            await writer.CompleteAsync();
        }
        var (type, data) = await NextAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(parts.SelectMany(p => p).ToArray(), data);
    }

    /// <summary>With a receive chunk size, a large echo arrives in parts that join up to what was sent.</summary>
    public static async Task AssertLargeEchoArrivesInChunksAsync(Func<WebSocketClientOptions, Task<WebSocketConnection>> connect)
    {
        const int chunk = 64 * 1024;
        var options = new WebSocketClientOptions();
        options.Connection.ReceiveChunkSize = chunk;
        await using var client = await connect(options);
        var data = Pattern(1 << 20, 9);
        await client.SendBinaryAsync(data);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var joined = new List<byte>();
        int parts = 0;
        await foreach (var part in client.ReadMessagesAsync(timeout.Token))
        {
            Assert.Equal(WebSocketMessageType.Binary, part.Type);
            Assert.True(part.Length <= chunk, $"a part of {part.Length} bytes is over the {chunk}-byte chunk size");
            joined.AddRange(part.Data.ToArray());
            parts++;
            if (part.EndOfMessage) break;
        }
        Assert.True(parts >= data.Length / chunk, $"{parts} parts for {data.Length} bytes");
        Assert.Equal(data, joined.ToArray());
    }
}
