using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks;

/// <summary>
/// A whole small-message round through the server side of <see cref="WebSocketConnection"/>: a
/// masked 32-byte frame goes into its input pipe, the application reads the message and sends it
/// back, and the echoed frame is read from its output pipe. No sockets, so this is the engine's own
/// cost per message; the allocation column is the "0 bytes per message" target.
/// </summary>
[MemoryDiagnoser]
public class ConnectionBenchmarks
{
    private Pipe _toServer = null!;
    private Pipe _fromServer = null!;
    private WebSocketConnection _connection = null!;
    private IAsyncEnumerator<WebSocketMessage> _messages = null!;
    private byte[] _frame = [];

    [Params(32, 1024)]
    public int Size { get; set; }

    [Params(false, true)]
    public bool Text { get; set; }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    [GlobalSetup]
    public void Setup()
    {
        _toServer = new Pipe(new PipeOptions(useSynchronizationContext: false));
        _fromServer = new Pipe(new PipeOptions(useSynchronizationContext: false));
        _connection = new WebSocketConnection(new DuplexPipe(_toServer.Reader, _fromServer.Writer), WebSocketRole.Server,
            new WebSocketConnectionOptions { KeepAliveInterval = TimeSpan.Zero });
        _messages = _connection.ReadMessagesAsync().GetAsyncEnumerator();
        var payload = new byte[Size];
        for (int i = 0; i < Size; i++) payload[i] = (byte)('a' + i % 26);
        var frame = new System.Buffers.ArrayBufferWriter<byte>();
        FrameWriter.WriteFrame(frame, Text ? Opcode.Text : Opcode.Binary, true, 0, payload, 0x11223344);
        _frame = frame.WrittenSpan.ToArray();
    }

    private const int Rounds = 16;

    // 16 messages per invocation and a pooled state machine, so that neither BenchmarkDotNet's own
    // per-invocation Task nor this method's box shows up in the allocation column as the engine's.
    [Benchmark(OperationsPerInvoke = Rounds)]
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<long> ReceiveAndSend()
    {
        long total = 0;
        for (int i = 0; i < Rounds; i++) total += await RoundAsync();
        return total;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long> RoundAsync()
    {
        await _toServer.Writer.WriteAsync(_frame);
        if (!await _messages.MoveNextAsync()) throw new InvalidOperationException("connection ended");
        await _connection.SendAsync(_messages.Current);
        long echoed = 0;
        while (echoed < Size + (Size < 126 ? 2 : 4))
        {
            var read = await _fromServer.Reader.ReadAsync();
            echoed += read.Buffer.Length;
            _fromServer.Reader.AdvanceTo(read.Buffer.End);
        }
        return echoed;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _connection.Abort();
        _toServer.Writer.Complete();
        _fromServer.Reader.Complete();
    }
}
