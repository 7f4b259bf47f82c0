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
        return new SocketIOArgs(a.EnumerateArray().Skip(skip).ToArray(), attachments, options);
    }

    public int Count => _items.Length;

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

    public IEnumerator<JsonElement> GetEnumerator() => ((IEnumerable<JsonElement>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "[" + string.Join(",", _items.Select(i => i.GetRawText())) + "]";
}
