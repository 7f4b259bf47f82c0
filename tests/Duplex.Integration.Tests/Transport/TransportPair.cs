using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Duplex.Integration.Tests.Transport;

/// <summary>
/// A listener of the Duplex socket transport on a free loopback port, one raw client socket connected
/// to it and the <see cref="ConnectionContext"/> the listener accepted for that client.
/// </summary>
internal sealed class TransportPair : IAsyncDisposable
{
    /// <summary>The bound on every wait in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private bool _serverDisposed;

    private TransportPair(IConnectionListener listener, Socket client, ConnectionContext server)
    {
        Listener = listener;
        Client = client;
        Server = server;
    }

    public IConnectionListener Listener { get; }

    /// <summary>The peer: a plain socket, so what the transport sends is seen byte for byte.</summary>
    public Socket Client { get; }

    /// <summary>The accepted connection under test.</summary>
    public ConnectionContext Server { get; }

    public PipeReader Input => Server.Transport.Input;

    public PipeWriter Output => Server.Transport.Output;

    public static DuplexSocketTransportFactory CreateFactory(Action<DuplexSocketTransportOptions>? configure = null)
    {
        var options = new DuplexSocketTransportOptions();
        configure?.Invoke(options);
        return new DuplexSocketTransportFactory(Options.Create(options), NullLoggerFactory.Instance);
    }

    public static async Task<IConnectionListener> BindLoopbackAsync(DuplexSocketTransportFactory factory) =>
        await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0)).AsTask().WaitAsync(Timeout);

    /// <summary>
    /// Connects a client socket to <paramref name="listener"/> and accepts it. Buffer sizes &gt; 0 are set on
    /// the client before it connects (SO_RCVBUF then also bounds the TCP window it advertises).
    /// </summary>
    public static async Task<(Socket Client, ConnectionContext Server)> ConnectAsync(IConnectionListener listener,
        int clientReceiveBufferSize = 0, int clientSendBufferSize = 0)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (clientReceiveBufferSize > 0) client.ReceiveBufferSize = clientReceiveBufferSize;
        if (clientSendBufferSize > 0) client.SendBufferSize = clientSendBufferSize;
        var accept = listener.AcceptAsync().AsTask();
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Timeout);
        var server = await accept.WaitAsync(Timeout);
        Assert.NotNull(server);
        return (client, server);
    }

    public static async Task<TransportPair> StartAsync(Action<DuplexSocketTransportOptions>? configure = null,
        int clientReceiveBufferSize = 0, int clientSendBufferSize = 0)
    {
        var listener = await BindLoopbackAsync(CreateFactory(configure));
        var (client, server) = await ConnectAsync(listener, clientReceiveBufferSize, clientSendBufferSize);
        return new TransportPair(listener, client, server);
    }

    /// <summary>Disposes the server side once (bounded: a DisposeAsync that hangs fails the test).</summary>
    public async Task DisposeServerAsync()
    {
        if (_serverDisposed) return;
        _serverDisposed = true;
        await Server.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        try
        {
            await DisposeServerAsync();
        }
        finally
        {
            await Listener.UnbindAsync().AsTask().WaitAsync(Timeout);
            await Listener.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
    }

    // ---- data --------------------------------------------------------------------------------------

    /// <summary>Deterministic bytes that differ at every offset modulo 256 and between blocks, so lost, repeated or reordered pieces show.</summary>
    public static byte PatternAt(long offset) => (byte)(offset * 31 ^ (offset >> 8) * 7 ^ (offset >> 16) * 13 ^ (offset >> 24));

    public static void FillPattern(Span<byte> destination, long offset)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = PatternAt(offset + i);
    }

    /// <summary>The offset of the first byte that is not the pattern, or -1.</summary>
    public static long FirstPatternMismatch(ReadOnlySpan<byte> data, long offset)
    {
        for (int i = 0; i < data.Length; i++)
            if (data[i] != PatternAt(offset + i)) return offset + i;
        return -1;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Piece sizes in 1..<paramref name="max"/> that add up to <paramref name="total"/>.</summary>
    public static List<int> OddPieces(int total, int max, int seed)
    {
        var random = new Random(seed);
        var pieces = new List<int>();
        while (total > 0)
        {
            int n = Math.Min(total, random.Next(1, max + 1));
            pieces.Add(n);
            total -= n;
        }
        return pieces;
    }

    // ---- the client socket ------------------------------------------------------------------------

    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data);
            data = data[n..];
        }
    }

    /// <summary>Receives exactly <paramref name="count"/> bytes; fails on EOF before them or on timeout.</summary>
    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var data = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = await socket.ReceiveAsync(data.AsMemory(got), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException($"EOF after {got} of {count} bytes");
            got += n;
        }
        return data;
    }

    /// <summary>Receives until EOF (bounded).</summary>
    public static async Task<byte[]> ReceiveToEndAsync(Socket socket, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0) all.Write(buffer, 0, n);
        return all.ToArray();
    }

    // ---- the server input -------------------------------------------------------------------------

    /// <summary>Reads and consumes exactly <paramref name="count"/> bytes from the input.</summary>
    public static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var data = new byte[count];
        int got = 0;
        while (got < count)
        {
            var result = await reader.ReadAsync(cts.Token);
            var buffer = result.Buffer;
            int take = (int)Math.Min(buffer.Length, count - got);
            buffer.Slice(0, take).CopyTo(data.AsSpan(got));
            got += take;
            reader.AdvanceTo(buffer.GetPosition(take));
            if (got < count && result.IsCompleted) throw new IOException($"input completed after {got} of {count} bytes");
        }
        return data;
    }

    /// <summary>Reads without consuming until at least <paramref name="count"/> bytes are buffered; the caller advances.</summary>
    public static async Task<ReadResult> ReadBufferedAsync(PipeReader reader, int count)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            var result = await reader.ReadAsync(cts.Token);
            if (result.Buffer.Length >= count || result.IsCompleted || result.IsCanceled) return result;
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>A task that completes when <paramref name="token"/> is cancelled.</summary>
    public static Task WhenCancelled(CancellationToken token)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => tcs.TrySetResult());
        return tcs.Task;
    }
}
