using System.Text;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Something a case observed (or expects to observe): a whole message, a ping, a pong, or a
/// "timeout" marker a case records when a wait elapsed with the connection still open.
/// Two events are equal when kind, payload octets, message type and tag are equal.
/// </summary>
internal sealed class CaseEvent : IEquatable<CaseEvent>
{
    private CaseEvent(string kind, byte[]? payload, bool? binary, string? tag)
    {
        Kind = kind;
        Payload = payload;
        Binary = binary;
        Tag = tag;
    }

    public string Kind { get; }
    public byte[]? Payload { get; }
    public bool? Binary { get; }
    public string? Tag { get; }

    public static CaseEvent Message(byte[] payload, bool binary) => new("message", payload, binary, null);
    public static CaseEvent Text(string payload) => Message(Encoding.UTF8.GetBytes(payload), binary: false);
    public static CaseEvent Ping(byte[] payload) => new("ping", payload, null, null);
    public static CaseEvent Pong(byte[] payload) => new("pong", payload, null, null);
    public static CaseEvent Pong(string payload) => Pong(Encoding.UTF8.GetBytes(payload));
    public static CaseEvent Timeout(string tag) => new("timeout", null, null, tag);

    public bool Equals(CaseEvent? other) =>
        other is not null
        && Kind == other.Kind
        && Binary == other.Binary
        && Tag == other.Tag
        && (Payload ?? []).AsSpan().SequenceEqual(other.Payload ?? []);

    public override bool Equals(object? obj) => Equals(obj as CaseEvent);

    public override int GetHashCode() => HashCode.Combine(Kind, Binary, Tag, Payload?.Length);

    /// <summary>Short human-readable form for reports: kind, type, length and a preview of the payload.</summary>
    public string Describe()
    {
        if (Kind == "timeout")
        {
            return $"timeout {Tag}";
        }
        string type = Binary switch { true => " binary", false => " text", null => "" };
        return $"{Kind}{type} len={Payload!.Length} {Preview(Payload)}";
    }

    public static string Preview(byte[] payload, int limit = 48)
    {
        var head = payload.AsSpan(0, Math.Min(limit, payload.Length));
        bool printable = Wire.Utf8Validator.IsValidUtf8(head) && !head.ContainsAnyInRange((byte)0, (byte)0x1F);
        string shown = printable ? "'" + Encoding.UTF8.GetString(head) + "'" : "0x" + Convert.ToHexString(head).ToLowerInvariant();
        return payload.Length > limit ? shown + "..." : shown;
    }
}
