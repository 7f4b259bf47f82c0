using System.Collections;
using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>
/// The arguments of an event or an acknowledgement, as JSON, with any binary parts resolved from the
/// packet's attachments when read as <c>byte[]</c> (at any depth of a typed object).
/// </summary>
public sealed class SocketIOArgs : IReadOnlyList<JsonElement>
{
    private readonly JsonElement[] _items;
    private readonly JsonSerializerOptions _options;

    internal SocketIOArgs(JsonElement[] items, IReadOnlyList<byte[]> attachments, JsonSerializerOptions options)
    {
        _items = items;
        Attachments = attachments;
        _options = options;
    }

    internal static SocketIOArgs From(JsonElement? array, int skip, IReadOnlyList<byte[]> attachments, JsonSerializerOptions options)
    {
        if (array is not { ValueKind: JsonValueKind.Array } a) return new SocketIOArgs([], attachments, options);
        int count = Math.Max(0, a.GetArrayLength() - skip);
        if (count == 0) return new SocketIOArgs([], attachments, options);
        // One pass of the struct enumerator: indexing a JsonElement array can cost a scan per element.
        var items = new JsonElement[count];
        int index = -skip;
        foreach (var item in a.EnumerateArray())
        {
            if (index >= 0) items[index] = item;
            index++;
        }
        return new SocketIOArgs(items, attachments, options);
    }

    /// <summary>The name of an EVENT packet (<c>data[0]</c>; a numeric one as its digits), null when it has none.</summary>
    internal static string? EventName(SocketIOPacket packet)
    {
        if (packet.Data is not { ValueKind: JsonValueKind.Array } data || data.GetArrayLength() == 0) return null;
        var first = data[0];
        return first.ValueKind == JsonValueKind.String ? first.GetString() : first.GetRawText();
    }

    /// <summary>How many arguments there are (an event's name is not one of them).</summary>
    public int Count => _items.Length;

    /// <summary>
    /// Argument <paramref name="index"/> as JSON, a binary part still as its <c>{"_placeholder":true,"num":N}</c>
    /// (read it with <see cref="GetBytes"/> or <see cref="Get{T}"/>). Throws <see cref="IndexOutOfRangeException"/>
    /// unless 0 &lt;= <paramref name="index"/> &lt; <see cref="Count"/>.
    /// </summary>
    public JsonElement this[int index] => _items[index];

    /// <summary>The binary parts the packet carried, in placeholder order.</summary>
    public IReadOnlyList<byte[]> Attachments { get; }

    /// <summary>Argument <paramref name="index"/> as <typeparamref name="T"/>; default when there is no such argument.</summary>
    public T? Get<T>(int index = 0)
    {
        if (index < 0 || index >= _items.Length) return default;
        using var resolving = BinaryPlaceholderConverter.Resolve(Attachments);
        return SocketIOJson.Read<T>(_items[index], _options);
    }

    /// <summary>Argument <paramref name="index"/> as bytes (an attachment, or base64 text).</summary>
    public byte[]? GetBytes(int index = 0) => Get<byte[]>(index);

    /// <summary>The arguments as JSON, in order (binary parts as placeholders, as the indexer gives them).</summary>
    public IEnumerator<JsonElement> GetEnumerator() => ((IEnumerable<JsonElement>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The arguments as a JSON array, for logs (binary parts as placeholders).</summary>
    public override string ToString() => "[" + string.Join(",", _items.Select(i => i.GetRawText())) + "]";
}
