using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Duplex.Server.Transport;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests.Transport;

/// <summary>
/// What the listener does when accepting fails. Running a real process out of descriptors proved a poor
/// test: the runtime itself then fails at random (assembly loads, an abort), so the failures are injected
/// in front of a real listening socket instead.
/// </summary>
public sealed class AcceptFailureTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Out_of_descriptors_it_warns_pauses_between_attempts_and_then_accepts()
    {
        using var listenSocket = Listen();
        int failures = 0;
        var log = new WarningLog();
        var listener = new SocketListener(listenSocket, new DuplexSocketTransportOptions(), log, async token =>
        {
            // EMFILE three times, as while every descriptor is in use; then descriptors are free again.
            if (Interlocked.Increment(ref failures) <= 3) throw new SocketException((int)SocketError.TooManyOpenSockets);
            return await listenSocket.AcceptAsync(token);
        });
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listenSocket.LocalEndPoint!).WaitAsync(Bound);

        var clock = Stopwatch.StartNew();
        await using var connection = await listener.AcceptAsync().AsTask().WaitAsync(Bound);
        Assert.NotNull(connection);
        // Three pauses of 100 ms, not a spin: a retry at once would be done in microseconds.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(280), $"accepted after {clock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(3, log.Warnings.Count);
        Assert.All(log.Warnings, w => Assert.Contains("TooManyOpenSockets", w));
        // And it is a working connection.
        await client.SendAsync("ping"u8.ToArray()).WaitAsync(Bound);
        var read = await connection!.Transport.Input.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.Equal("ping", System.Text.Encoding.ASCII.GetString(System.Buffers.BuffersExtensions.ToArray(read.Buffer)));
        connection.Transport.Input.AdvanceTo(read.Buffer.End);
    }

    [Fact]
    public async Task A_connection_reset_before_accept_is_skipped_without_a_warning()
    {
        using var listenSocket = Listen();
        int calls = 0;
        var log = new WarningLog();
        var listener = new SocketListener(listenSocket, new DuplexSocketTransportOptions(), log, async token =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new SocketException((int)SocketError.ConnectionReset);
            return await listenSocket.AcceptAsync(token);
        });
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listenSocket.LocalEndPoint!).WaitAsync(Bound);
        await using var connection = await listener.AcceptAsync().AsTask().WaitAsync(Bound);
        Assert.NotNull(connection);
        Assert.Equal(2, calls);
        Assert.Empty(log.Warnings);
    }

    [Fact]
    public async Task After_unbinding_accept_returns_null_instead_of_retrying()
    {
        using var listenSocket = Listen();
        var listener = new SocketListener(listenSocket, new DuplexSocketTransportOptions(), new WarningLog());
        var pending = listener.AcceptAsync().AsTask();
        await listener.UnbindAsync();
        Assert.Null(await pending.WaitAsync(Bound));
    }

    private static Socket Listen()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(16);
        return socket;
    }

    private sealed class WarningLog : ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel < LogLevel.Warning) return;
            lock (Warnings) Warnings.Add(formatter(state, exception));
        }
    }
}
