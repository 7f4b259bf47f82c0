using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

/// <summary>
/// The synchronous suite of <see cref="WebSocketProtocol"/>: wire bytes in, events and frames out, no
/// pipes, tasks or clocks. One nested class per RFC section (in the partial files beside this one);
/// the harness drives the protocol as a transport loop would (<see cref="ProtocolHarness"/>).
/// </summary>
public partial class WebSocketProtocolTests
{
    private static WebSocketProtocolOptions Options(long maxMessageSize = 1 << 20, int maxFragments = 64, int? chunk = null) => new()
    {
        MaxMessageSize = maxMessageSize,
        MaxFragments = maxFragments,
        ReceiveChunkSize = chunk,
    };

    private static void AssertMessage(ProtocolEvent e, Opcode opcode, ReadOnlySpan<byte> data)
    {
        Assert.Equal(WebSocketEvent.Message, e.Kind);
        Assert.Equal(opcode, e.Opcode);
        Assert.Equal(Convert.ToHexString(data), Convert.ToHexString(e.Data));
    }

    private static void AssertMessage(ProtocolEvent e, Opcode opcode, string text) => AssertMessage(e, opcode, Encoding.UTF8.GetBytes(text));

    private static byte[] Hex(string hex) => ProtocolHarness.Hex(hex);

    private static string Kinds(IEnumerable<ProtocolEvent> events) => string.Join(" ", events.Select(e => e.Kind));
}
