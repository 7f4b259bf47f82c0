using System.Text.Json;
using System.Text.Json.Serialization;

namespace Duplex.SocketIO;

/// <summary>
/// Lets <c>byte[]</c> anywhere in event arguments travel as Socket.IO attachments: while a packet is
/// encoded each array becomes <c>{"_placeholder":true,"num":N}</c> and is collected; while one is
/// decoded each placeholder reads back as its attachment. Outside those scopes it is plain base64.
/// </summary>
internal sealed class BinaryPlaceholderConverter : JsonConverter<byte[]>
{
    [ThreadStatic] private static List<byte[]>? t_outgoing;
    [ThreadStatic] private static IReadOnlyList<byte[]>? t_incoming;

    public static Scope Collect(List<byte[]> attachments)
    {
        var scope = Scope.Outgoing(t_outgoing);
        t_outgoing = attachments;
        return scope;
    }

    /// <summary>
    /// Writes <c>byte[]</c> as base64 until disposed, whatever scope is open on the thread: for the
    /// packets that have no binary form (CONNECT_ERROR).
    /// </summary>
    public static Scope Inline()
    {
        var scope = Scope.Outgoing(t_outgoing);
        t_outgoing = null;
        return scope;
    }

    public static Scope Resolve(IReadOnlyList<byte[]> attachments)
    {
        var scope = Scope.Incoming(t_incoming);
        t_incoming = attachments;
        return scope;
    }

    public override byte[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.GetBytesFromBase64();
            case JsonTokenType.StartObject:
                int? num = null;
                bool placeholder = false;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    string? name = reader.GetString();
                    reader.Read();
                    if (name == "_placeholder") placeholder = reader.TokenType == JsonTokenType.True;
                    else if (name == "num" && reader.TokenType == JsonTokenType.Number) num = reader.GetInt32();
                    else reader.Skip();
                }
                var attachments = t_incoming;
                if (!placeholder || num is not int n || attachments is null || n < 0 || n >= attachments.Count)
                    throw new JsonException("not a binary placeholder with a matching attachment");
                return attachments[n];
            default:
                throw new JsonException($"cannot read {reader.TokenType} as binary");
        }
    }

    public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options)
    {
        var attachments = t_outgoing;
        if (attachments is null)
        {
            writer.WriteBase64StringValue(value);
            return;
        }
        writer.WriteStartObject();
        writer.WriteBoolean("_placeholder", true);
        writer.WriteNumber("num", attachments.Count);
        writer.WriteEndObject();
        attachments.Add(value);
    }

    /// <summary>
    /// Puts back the list a scope replaced. A struct holding it, not a closure: a scope opens for every
    /// event encoded and every argument read, and a closure was an allocation each time.
    /// </summary>
    public readonly struct Scope : IDisposable
    {
        private readonly List<byte[]>? _outgoing;
        private readonly IReadOnlyList<byte[]>? _incoming;
        private readonly bool _isIncoming;

        private Scope(List<byte[]>? outgoing, IReadOnlyList<byte[]>? incoming, bool isIncoming)
        {
            _outgoing = outgoing;
            _incoming = incoming;
            _isIncoming = isIncoming;
        }

        internal static Scope Outgoing(List<byte[]>? previous) => new(previous, null, false);

        internal static Scope Incoming(IReadOnlyList<byte[]>? previous) => new(null, previous, true);

        public void Dispose()
        {
            if (_isIncoming) t_incoming = _incoming;
            else t_outgoing = _outgoing;
        }
    }
}
