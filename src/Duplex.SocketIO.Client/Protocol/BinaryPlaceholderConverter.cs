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
        var previous = t_outgoing;
        t_outgoing = attachments;
        return new Scope(() => t_outgoing = previous);
    }

    /// <summary>
    /// Writes <c>byte[]</c> as base64 until disposed, whatever scope is open on the thread: for the
    /// packets that have no binary form (CONNECT_ERROR).
    /// </summary>
    public static Scope Inline()
    {
        var previous = t_outgoing;
        t_outgoing = null;
        return new Scope(() => t_outgoing = previous);
    }

    public static Scope Resolve(IReadOnlyList<byte[]> attachments)
    {
        var previous = t_incoming;
        t_incoming = attachments;
        return new Scope(() => t_incoming = previous);
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

    public readonly struct Scope(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
