using System.IO.Pipelines;
using System.Net.Sockets;
using Duplex.Server.Transport;
using static Duplex.Integration.Tests.Transport.TransportPair;

namespace Duplex.Integration.Tests.Transport;

/// <summary>
/// <see cref="SocketOutput.Release"/> (the connection's disposal) while a flush waits for a peer that
/// reads slowly. Disposal releases the output and then disposes the socket; a send that completes in
/// between ends the send loop without a failure, so only Release can still wake the flush.
/// </summary>
public class SocketOutputReleaseTests
{
    [Fact]
    public async Task A_flush_waiting_when_the_output_is_released_completes_reporting_completion()
    {
        await using var pair = await StartAsync(clientReceiveBufferSize: 4096);
        // More segments than one gathered send takes (16), so the send in flight when Release comes
        // leaves megabytes unsent: its completion does not bring the backlog down to where a flush wakes.
        const int segment = 64 * 1024;
        const int segments = 64;
        for (int i = 0; i < segments; i++)
        {
            var memory = pair.Output.GetMemory(segment);
            FillPattern(memory.Span[..segment], (long)i * segment);
            pair.Output.Advance(segment);
        }
        var flush = pair.Output.FlushAsync().AsTask();
        Assert.False(await Task.WhenAny(flush, Task.Delay(500)) == flush, "the flush waits for a peer that does not read");

        ((SocketOutput)pair.Output).Release();
        // The peer reads again: the send in flight completes normally (the socket is still open).
        using var reading = new CancellationTokenSource(TransportPair.Timeout);
        var drain = DrainAsync(pair.Client, reading.Token);

        var result = await flush.WaitAsync(TransportPair.Timeout);
        Assert.True(result.IsCompleted, "a released output reports completion");
        reading.Cancel();
        await drain;
    }

    private static async Task DrainAsync(Socket client, CancellationToken cancellationToken)
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
