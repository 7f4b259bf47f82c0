using System.Text.Json;
using System.Text.Json.Serialization;

namespace Duplex.SocketIO.Client;

/// <summary>
/// Lets <c>ReadOnlyMemory&lt;byte&gt;</c> and <c>Memory&lt;byte&gt;</c> arguments travel as attachments,
/// the way <see cref="BinaryPlaceholderConverter"/> does for <c>byte[]</c>.
/// </summary>
internal sealed class ReadOnlyMemoryPlaceholderConverter(BinaryPlaceholderConverter bytes) : JsonConverter<ReadOnlyMemory<byte>>
{
    public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        bytes.Read(ref reader, typeof(byte[]), options);

    public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options) =>
        bytes.Write(writer, value.ToArray(), options);
}

/// <inheritdoc cref="ReadOnlyMemoryPlaceholderConverter"/>
internal sealed class MemoryPlaceholderConverter(BinaryPlaceholderConverter bytes) : JsonConverter<Memory<byte>>
{
    public override Memory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        bytes.Read(ref reader, typeof(byte[]), options);

    public override void Write(Utf8JsonWriter writer, Memory<byte> value, JsonSerializerOptions options) =>
        bytes.Write(writer, value.ToArray(), options);
}
