using System.Diagnostics;
using Duplex.Protocol;
using Duplex.Tests.Support;
using Xunit.Abstractions;

namespace Duplex.Tests.Fuzz;

/// <summary>
/// Seeded, bounded fuzzing of a server-role connection: valid streams in random chunkings must give
/// exactly the messages sent; mutated streams must end in a close code and nothing else.
/// </summary>
public class ConnectionFuzzTests(ITestOutputHelper output)
{
    private const int MaxMessage = 4096;
    private const int MaxFragments = 4;
    private static readonly TimeSpan IterationTimeout = TimeSpan.FromSeconds(10);

    private static WebSocketConnectionOptions Options(int? receiveChunkSize = null) => new()
    {
        ReceiveChunkSize = receiveChunkSize,
        MaxMessageSize = MaxMessage,
        MaxFragments = MaxFragments,
        // The peer "closes TCP" after its bytes, so nothing should ever wait for this.
        CloseTimeout = TimeSpan.FromSeconds(30),
    };

    private sealed record Run(CloseStatus? Status, WebSocketState State, List<(WebSocketMessageType Type, byte[] Data, bool EndOfMessage)> Messages, List<WireFrame> Output, List<Exception> Logged);

    private static async Task<Run> FeedAsync(Random rng, byte[] bytes, string what, int? receiveChunkSize = null)
    {
        await using var h = new PipeHarness(options: Options(receiveChunkSize), outputBackpressure: false);
        var collecting = h.CollectMessagesAsync();
        foreach (var chunk in FuzzInput.Chunk(rng, bytes))
        {
            if (!await h.SendAsync(chunk)) break;
        }
        await h.CompleteInputAsync();
        try
        {
            await h.Connection.Completion.WaitAsync(IterationTimeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{what}: the connection did not end within {IterationTimeout} after the peer's bytes and EOF; input {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 256)))}");
        }
        var raw = await h.ReadAllBytesAsync(IterationTimeout);
        List<WireFrame> frames;
        try
        {
            frames = Frames.ParseAll(raw);
        }
        catch (InvalidDataException ex)
        {
            throw new Xunit.Sdk.XunitException($"{what}: the connection wrote a broken frame: {ex.Message}");
        }
        var messages = await collecting.WaitAsync(IterationTimeout);
        return new(h.Connection.CloseStatus, h.Connection.State, messages, frames, [.. h.Logger.Exceptions]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Valid_streams_in_random_chunkings_deliver_exactly_what_was_sent(int seed)
    {
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        int iterations = 0;
        for (; iterations < 500 && clock.Elapsed < TimeSpan.FromSeconds(10); iterations++)
        {
            var stream = FuzzInput.Valid(rng, MaxMessage, MaxFragments);
            // Half the runs take messages in parts (ReceiveChunkSize); the parts must add up to the message.
            int? chunk = rng.Next(2) == 0 ? null : rng.Next(1, 700);
            var what = $"seed {seed} iteration {iterations} chunk {chunk}";
            var run = await FeedAsync(rng, stream.Bytes, what, chunk);

            Assert.Empty(run.Logged);
            var whole = new List<(WebSocketMessageType Type, byte[] Data)>();
            var parts = new List<byte>();
            foreach (var (type, data, end) in run.Messages)
            {
                if (chunk is int c) Assert.True(end ? data.Length <= c : data.Length == c, $"{what}: part of {data.Length} bytes");
                else Assert.True(end, what);
                parts.AddRange(data);
                if (!end) continue;
                whole.Add((type, [.. parts]));
                parts.Clear();
            }
            Assert.Empty(parts);
            Assert.Equal(stream.Messages.Count, whole.Count);
            for (int i = 0; i < stream.Messages.Count; i++)
            {
                Assert.Equal(stream.Messages[i].Type == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, whole[i].Type);
                Assert.True(stream.Messages[i].Data.AsSpan().SequenceEqual(whole[i].Data), $"{what}: message {i} differs");
            }
            Assert.All(run.Output, f => Assert.True(f.Fin && !f.Masked && f.Rsv == 0, what));
            var pongs = run.Output.Where(f => f.Opcode == Opcode.Pong).Select(f => f.Payload).ToList();
            var closes = run.Output.Where(f => f.Opcode == Opcode.Close).ToList();
            Assert.Equal(pongs.Count + closes.Count, run.Output.Count);
            Assert.Equal(stream.Pings.Count, pongs.Count);
            for (int i = 0; i < pongs.Count; i++) Assert.Equal(stream.Pings[i], pongs[i]);
            if (stream.CloseCode is int code)
            {
                Assert.Equal(Opcode.Close, run.Output[^1].Opcode);
                Assert.Equal(code, run.Output[^1].CloseCode);
                Assert.Equal((CloseStatus)code, run.Status);
                Assert.Equal(WebSocketState.Closed, run.State);
            }
            else
            {
                Assert.Empty(closes);
                Assert.Equal(CloseStatus.AbnormalClosure, run.Status);
            }
        }
        output.WriteLine($"seed {seed}: {iterations} valid streams in {clock.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public async Task Mutated_streams_end_only_in_a_close_code(int seed)
    {
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        var outcomes = new Dictionary<int, int>();
        int iterations = 0;
        for (; iterations < 1000 && clock.Elapsed < TimeSpan.FromSeconds(10); iterations++)
        {
            byte[] bytes;
            if (rng.Next(10) == 0)
            {
                bytes = new byte[rng.Next(0, 300)];
                rng.NextBytes(bytes);
            }
            else
            {
                bytes = FuzzInput.Mutate(rng, FuzzInput.Valid(rng, MaxMessage, MaxFragments).Bytes);
            }
            int? chunk = rng.Next(3) == 0 ? rng.Next(1, 700) : null;
            var what = $"seed {seed} iteration {iterations} chunk {chunk}";
            var run = await FeedAsync(rng, bytes, what, chunk);

            Assert.True(run.Logged.Count == 0, $"{what}: exception escaped into the read loop: {run.Logged.FirstOrDefault()}");
            Assert.NotNull(run.Status);
            int status = (int)run.Status!.Value;
            outcomes[status] = outcomes.GetValueOrDefault(status) + 1;
            Assert.All(run.Output, f => Assert.True(f.Fin && !f.Masked && f.Rsv == 0 && f.Payload.Length <= 125, what));
            Assert.All(run.Output, f => Assert.True(f.Opcode is Opcode.Pong or Opcode.Close, $"{what}: unexpected {f.Opcode} frame"));
            var closes = run.Output.Where(f => f.Opcode == Opcode.Close).ToList();
            Assert.True(closes.Count <= 1, $"{what}: {closes.Count} close frames sent");
            if (closes.Count == 1) Assert.Equal(Opcode.Close, run.Output[^1].Opcode);

            if (status == 1006)
            {
                // The stream just stopped: no close frame either way.
                Assert.Empty(closes);
                Assert.Equal(WebSocketState.Aborted, run.State);
            }
            else
            {
                // Either we failed the connection (1002/1007/1008/1009) or the peer closed it
                // (any code valid on the wire, or 1005 for an empty close); our close says the same.
                Assert.True(status is 1002 or 1005 or 1007 or 1008 or 1009 || CloseStatusRules.IsValidOnWire(status), $"{what}: status {status}");
                var close = Assert.Single(closes);
                Assert.Equal(status == 1005 ? null : status, close.CloseCode);
                Assert.Equal(WebSocketState.Closed, run.State);
            }
            // Parts of a message (ReceiveChunkSize) may split a character; what matters is the message:
            // whole ones are valid UTF-8, and one cut short by a failure is a valid prefix (fail fast).
            var message = new List<byte>();
            WebSocketMessageType? messageType = null;
            foreach (var (type, data, end) in run.Messages)
            {
                message.AddRange(data);
                messageType = type;
                Assert.True(message.Count <= MaxMessage, what);
                if (!end) continue;
                if (type == WebSocketMessageType.Text) Assert.True(System.Text.Unicode.Utf8.IsValid([.. message]), $"{what}: invalid UTF-8 delivered");
                message.Clear();
            }
            if (messageType == WebSocketMessageType.Text && message.Count > 0)
                Assert.True(IsValidUtf8Prefix([.. message]), $"{what}: invalid UTF-8 delivered in a part");
        }
        output.WriteLine($"seed {seed}: {iterations} mutated streams in {clock.ElapsedMilliseconds} ms; outcomes: "
            + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key}×{o.Value}")));
        // The fuzzer is only worth its time if it reaches the failure paths.
        Assert.True(outcomes.ContainsKey(1002), "no 1002 outcome");
        Assert.True(outcomes.ContainsKey(1006), "no 1006 outcome");
        Assert.True(outcomes.Keys.Count(k => k != 1002 && k != 1006) > 0, "only 1002/1006 outcomes");
    }

    private static bool IsValidUtf8Prefix(byte[] bytes)
    {
        var decoder = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetDecoder();
        try
        {
            decoder.GetCharCount(bytes, 0, bytes.Length, flush: false);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
    }
}
