using System.Net.Sockets;
using System.Threading.Channels;

namespace Duplex.Conformance.Session;

/// <summary>
/// Ordered, non-blocking writes to the socket, like a reactor's transport: the case script queues
/// octets and moves on, a background loop puts them on the wire. Chops and "sync" frames become
/// separate socket writes, so the peer really receives partial frames.
/// </summary>
internal sealed class WireWriter
{
    // Chops are only meaningful if the peer gets a chance to read between them; a short pause gives
    // it that. Frames above 64 KiB (chapter 9) are chopped without pauses or they would take minutes.
    private const int PausedFrameLimit = 64 * 1024 + 14;
    private static readonly TimeSpan ChopPause = TimeSpan.FromMilliseconds(1);

    private readonly Socket _socket;
    private readonly Channel<Write> _queue = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Action _closed;
    private int _closeRequested;

    /// <param name="closed">Called once, after the socket was closed by this writer.</param>
    public WireWriter(Socket socket, Action closed)
    {
        _socket = socket;
        _closed = closed;
        Completion = Task.Run(PumpAsync);
    }

    public Task Completion { get; }
    public long OctetsWritten { get; private set; }
    public string? WriteError { get; private set; }

    public void Enqueue(byte[] data, int chopSize, bool sync) => _queue.Writer.TryWrite(new Write(data, chopSize, sync, Close: false));

    /// <summary>Closes the TCP connection once everything queued so far is written (a graceful drop).</summary>
    public void CloseAfterFlush()
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0)
        {
            _queue.Writer.TryWrite(new Write([], 0, false, Close: true));
            _queue.Writer.TryComplete();
        }
    }

    /// <summary>Closes the TCP connection now, discarding queued octets (an abortive drop).</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0)
        {
            _queue.Writer.TryComplete();
            CloseSocket();
        }
    }

    private async Task PumpAsync()
    {
        await foreach (var write in _queue.Reader.ReadAllAsync())
        {
            if (write.Close)
            {
                CloseSocket();
                return;
            }
            if (WriteError is not null)
            {
                continue;
            }
            try
            {
                if (write.ChopSize > 0)
                {
                    bool pause = write.Data.Length <= PausedFrameLimit;
                    for (int offset = 0; offset < write.Data.Length; offset += write.ChopSize)
                    {
                        await SendAllAsync(write.Data.AsMemory(offset, Math.Min(write.ChopSize, write.Data.Length - offset)));
                        if (pause)
                        {
                            await Task.Delay(ChopPause);
                        }
                    }
                }
                else
                {
                    await SendAllAsync(write.Data);
                    if (write.Sync)
                    {
                        await Task.Delay(ChopPause);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                // The peer may legitimately close while we are still sending (it failed the connection);
                // keep the first error for the report and discard the rest of the queue.
                WriteError ??= e.Message;
            }
        }
    }

    private async Task SendAllAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int sent = await _socket.SendAsync(data, SocketFlags.None);
            data = data[sent..];
            OctetsWritten += sent;
        }
    }

    private void CloseSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone; closing is all that is left to do.
        }
        _socket.Close();
        _closed();
    }

    private sealed record Write(byte[] Data, int ChopSize, bool Sync, bool Close);
}
