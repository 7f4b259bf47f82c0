using Duplex.Protocol;

namespace Duplex.Tests.Support;

/// <summary>
/// Drives a <see cref="FrameReader"/> over a byte stream the way a transport loop would, handing it
/// payload bytes in chunks of at most <c>chunk</c> bytes, and reports the messages, control frames
/// and the first protocol error.
/// </summary>
public static class ReaderDriver
{
    public sealed record Outcome(List<(Opcode Opcode, byte[] Data)> Events, ProtocolError? Error, int ErrorOffset);

    public static Outcome Run(FrameReaderOptions options, byte[] wire, int chunk = int.MaxValue)
    {
        var reader = new FrameReader(options);
        var events = new List<(Opcode, byte[])>();
        var message = new List<byte>();
        int pos = 0;
        while (pos < wire.Length)
        {
            var status = reader.TryReadHeader(wire.AsSpan(pos), out var header, out var error);
            if (status == FrameReadStatus.NeedMoreData) break;
            if (status == FrameReadStatus.Error) return new(events, error, pos);
            pos += header.HeaderLength;
            var payload = new List<byte>();
            while (reader.RemainingInFrame > 0 && pos < wire.Length)
            {
                int n = (int)Math.Min(Math.Min(reader.RemainingInFrame, wire.Length - pos), chunk);
                var bytes = wire.AsSpan(pos, n).ToArray();
                bool ok = reader.ProcessPayload(bytes, out var payloadError);
                pos += n;
                if (!ok) return new(events, payloadError, pos);
                payload.AddRange(bytes);
            }
            if (reader.RemainingInFrame > 0) break;
            if (header.Opcode is Opcode.Close or Opcode.Ping or Opcode.Pong)
            {
                events.Add((header.Opcode, payload.ToArray()));
                continue;
            }
            message.AddRange(payload);
            if (reader.CompleteDataFrame(out var endError))
            {
                if (endError is ProtocolError e) return new(events, e, pos);
                events.Add((reader.MessageOpcode, message.ToArray()));
                message.Clear();
            }
        }
        return new(events, null, pos);
    }

    public static FrameReaderOptions Server(long maxMessageSize = 1 << 20, int maxFragments = 64, byte allowedRsv = 0) =>
        new() { Role = WebSocketRole.Server, MaxMessageSize = maxMessageSize, MaxFragments = maxFragments, AllowedRsv = allowedRsv };

    public static FrameReaderOptions Client() => new() { Role = WebSocketRole.Client };
}
