using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>
/// The MessagePack that notepack.io (the encoder of socket.io-msgpack-parser and of the Node Redis
/// adapter) produces and reads, mapped to and from the JSON model Duplex's Socket.IO code works in:
/// maps ↔ objects, arrays, strings, integers and floats ↔ numbers, nil ↔ null, booleans, and bin ↔
/// Socket.IO binary placeholders (<c>{"_placeholder":true,"num":N}</c> plus an attachment), so binary
/// parts stay real bytes. notepack's extensions read as JSON.stringify would see the JavaScript value:
/// <c>undefined</c> (fixext 1, type 0) is null in an array and left out of a map; a <c>Date</c> (fixext 8,
/// type 0) is its ISO 8601 text; an ArrayBuffer or typed array (ext 8–32, type 0) is binary like bin.
/// Other extension types read as null. Malformed input throws <see cref="FormatException"/>: every length
/// is checked against the bytes left before anything is allocated, and nesting is bounded. One codec for
/// the Socket.IO msgpack parser (server and client) and the Redis adapter.
/// </summary>
internal static class MsgPack
{
    /// <summary>The deepest nesting of maps and arrays encoded or decoded (the top level is 0); deeper throws <see cref="FormatException"/>.</summary>
    public const int MaxDepth = 64;

    // ───────────────────────────── JSON → MessagePack ─────────────────────────────

    /// <summary>Encodes <paramref name="value"/>; placeholders pointing into <paramref name="attachments"/> become bin.</summary>
    public static byte[] FromJson(JsonElement value, IReadOnlyList<byte[]>? attachments = null)
    {
        var writer = new Writer(new ArrayBufferWriter<byte>(256));
        writer.WriteJson(value, attachments, 0);
        return writer.ToArray();
    }

    /// <summary>Builds a message with a writer (for envelopes like <c>[uid, packet, opts]</c>).</summary>
    public static byte[] Build(Action<Writer> write)
    {
        var writer = new Writer(new ArrayBufferWriter<byte>(256));
        write(writer);
        return writer.ToArray();
    }

    /// <summary>
    /// Appends MessagePack values to a buffer: integers, lengths and counts in their shortest form, floats
    /// as float 64, as notepack.io writes them. A map or array is its header followed by its items.
    /// </summary>
    /// <param name="output">Where the bytes go.</param>
    public readonly struct Writer(ArrayBufferWriter<byte> output)
    {
        /// <summary>A copy of everything written so far.</summary>
        public byte[] ToArray() => output.WrittenSpan.ToArray();

        private void Byte(byte b) => output.Write<byte>([b]);

        private void Be16(byte marker, ushort v)
        {
            var span = output.GetSpan(3);
            span[0] = marker;
            BinaryPrimitives.WriteUInt16BigEndian(span[1..], v);
            output.Advance(3);
        }

        private void Be32(byte marker, uint v)
        {
            var span = output.GetSpan(5);
            span[0] = marker;
            BinaryPrimitives.WriteUInt32BigEndian(span[1..], v);
            output.Advance(5);
        }

        private void Be64(byte marker, ulong v)
        {
            var span = output.GetSpan(9);
            span[0] = marker;
            BinaryPrimitives.WriteUInt64BigEndian(span[1..], v);
            output.Advance(9);
        }

        /// <summary>Writes nil (0xc0).</summary>
        public void Nil() => Byte(0xc0);

        /// <summary>Writes true (0xc3) or false (0xc2).</summary>
        public void Bool(bool value) => Byte(value ? (byte)0xc3 : (byte)0xc2);

        /// <summary>Writes an integer: a non-negative one as <see cref="UInt"/> does, a negative one as negative fixint or int 8–64.</summary>
        public void Int(long value)
        {
            if (value >= 0) UInt((ulong)value);
            else if (value >= -32) Byte((byte)(sbyte)value);
            else if (value >= sbyte.MinValue) output.Write<byte>([0xd0, (byte)(sbyte)value]);
            else if (value >= short.MinValue) Be16(0xd1, (ushort)(short)value);
            else if (value >= int.MinValue) Be32(0xd2, (uint)(int)value);
            else Be64(0xd3, (ulong)value);
        }

        /// <summary>Writes a non-negative integer as positive fixint or uint 8–64.</summary>
        public void UInt(ulong value)
        {
            if (value < 0x80) Byte((byte)value);
            else if (value <= byte.MaxValue) output.Write<byte>([0xcc, (byte)value]);
            else if (value <= ushort.MaxValue) Be16(0xcd, (ushort)value);
            else if (value <= uint.MaxValue) Be32(0xce, (uint)value);
            else Be64(0xcf, value);
        }

        /// <summary>Writes a float 64 (0xcb), whatever the value.</summary>
        public void Double(double value) => Be64(0xcb, BitConverter.DoubleToUInt64Bits(value));

        /// <summary>Writes a string as UTF-8 (fixstr or str 8–32 by its byte length; lone surrogates become U+FFFD).</summary>
        public void String(string value)
        {
            int length = Encoding.UTF8.GetByteCount(value);
            if (length < 32) Byte((byte)(0xa0 | length));
            else if (length <= byte.MaxValue) output.Write<byte>([0xd9, (byte)length]);
            else if (length <= ushort.MaxValue) Be16(0xda, (ushort)length);
            else Be32(0xdb, (uint)length);
            int written = Encoding.UTF8.GetBytes(value, output.GetSpan(length));
            output.Advance(written);
        }

        /// <summary>Writes bytes as bin 8–32.</summary>
        public void Binary(ReadOnlySpan<byte> value)
        {
            if (value.Length <= byte.MaxValue) output.Write<byte>([0xc4, (byte)value.Length]);
            else if (value.Length <= ushort.MaxValue) Be16(0xc5, (ushort)value.Length);
            else Be32(0xc6, (uint)value.Length);
            output.Write(value);
        }

        /// <summary>Starts an array of <paramref name="count"/> items, which the caller writes next (fixarray, array 16 or 32).</summary>
        public void ArrayHeader(int count)
        {
            if (count < 16) Byte((byte)(0x90 | count));
            else if (count <= ushort.MaxValue) Be16(0xdc, (ushort)count);
            else Be32(0xdd, (uint)count);
        }

        /// <summary>Starts a map of <paramref name="count"/> entries, each a key then its value, which the caller writes next (fixmap, map 16 or 32).</summary>
        public void MapHeader(int count)
        {
            if (count < 16) Byte((byte)(0x80 | count));
            else if (count <= ushort.MaxValue) Be16(0xde, (ushort)count);
            else Be32(0xdf, (uint)count);
        }

        /// <summary>Writes an array of strings (a room list, say).</summary>
        public void StringArray(IEnumerable<string> values)
        {
            var all = values as IReadOnlyCollection<string> ?? values.ToArray();
            ArrayHeader(all.Count);
            foreach (var v in all) String(v);
        }

        /// <summary>
        /// Writes <paramref name="value"/>: objects as maps, arrays, strings, numbers (integers when they are
        /// whole and in range, else float 64), booleans, and null. Throws <see cref="FormatException"/>
        /// past <see cref="MaxDepth"/>.
        /// </summary>
        /// <param name="value">The JSON to encode.</param>
        /// <param name="attachments">When given, an object <c>{"_placeholder":true,"num":N}</c> with N an index into
        /// them is written as bin of that attachment; other objects, and all of them when null, stay maps.</param>
        /// <param name="depth">How deep <paramref name="value"/> already is; 0 at the top.</param>
        public void WriteJson(JsonElement value, IReadOnlyList<byte[]>? attachments, int depth = 0)
        {
            if (depth > MaxDepth) throw new FormatException("nesting too deep");
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    if (attachments is not null && TryPlaceholder(value, attachments, out var bytes))
                    {
                        Binary(bytes);
                        return;
                    }
                    int count = 0;
                    foreach (var _ in value.EnumerateObject()) count++;
                    MapHeader(count);
                    foreach (var property in value.EnumerateObject())
                    {
                        String(property.Name);
                        WriteJson(property.Value, attachments, depth + 1);
                    }
                    return;
                case JsonValueKind.Array:
                    ArrayHeader(value.GetArrayLength());
                    foreach (var item in value.EnumerateArray()) WriteJson(item, attachments, depth + 1);
                    return;
                case JsonValueKind.String:
                    String(value.GetString()!);
                    return;
                case JsonValueKind.Number:
                    if (value.TryGetInt64(out long l)) Int(l);
                    else if (value.TryGetUInt64(out ulong u)) UInt(u);
                    else Double(value.GetDouble());
                    return;
                case JsonValueKind.True:
                    Bool(true);
                    return;
                case JsonValueKind.False:
                    Bool(false);
                    return;
                default:
                    Nil();
                    return;
            }
        }

        private static bool TryPlaceholder(JsonElement value, IReadOnlyList<byte[]> attachments, out byte[] bytes)
        {
            bytes = null!;
            if (!value.TryGetProperty("_placeholder", out var flag) || flag.ValueKind != JsonValueKind.True) return false;
            if (!value.TryGetProperty("num", out var num) || num.ValueKind != JsonValueKind.Number || !num.TryGetInt32(out int n) || n < 0 || n >= attachments.Count) return false;
            bytes = attachments[n];
            return true;
        }
    }

    // ───────────────────────────── MessagePack → JSON ─────────────────────────────

    /// <summary>
    /// Decodes one value as JSON; every bin becomes a placeholder whose bytes are appended to
    /// <paramref name="attachments"/>. Trailing bytes are an error.
    /// </summary>
    public static JsonElement ToJson(ReadOnlySpan<byte> data, List<byte[]> attachments)
    {
        var buffer = new ArrayBufferWriter<byte>(data.Length * 2 + 16);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = false }))
        {
            int offset = 0;
            ReadValue(data, ref offset, writer, attachments, 0);
            if (offset != data.Length) throw new FormatException("trailing bytes after the MessagePack value");
        }
        // MaxDepth + 1 levels: containers at depths 0 … MaxDepth.
        using var document = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = MaxDepth + 1 });
        return document.RootElement.Clone();
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> data, ref int offset, long count)
    {
        if (count < 0 || count > data.Length - offset) throw new FormatException("MessagePack value runs past the end");
        var slice = data.Slice(offset, (int)count);
        offset += (int)count;
        return slice;
    }

    private static byte U8(ReadOnlySpan<byte> data, ref int offset) => Take(data, ref offset, 1)[0];
    private static ushort U16(ReadOnlySpan<byte> data, ref int offset) => BinaryPrimitives.ReadUInt16BigEndian(Take(data, ref offset, 2));
    private static uint U32(ReadOnlySpan<byte> data, ref int offset) => BinaryPrimitives.ReadUInt32BigEndian(Take(data, ref offset, 4));
    private static ulong U64(ReadOnlySpan<byte> data, ref int offset) => BinaryPrimitives.ReadUInt64BigEndian(Take(data, ref offset, 8));

    /// <summary>Reads a value; returns false when it was notepack's <c>undefined</c>, written as null.</summary>
    private static bool ReadValue(ReadOnlySpan<byte> data, ref int offset, Utf8JsonWriter writer, List<byte[]> attachments, int depth)
    {
        if (depth > MaxDepth) throw new FormatException("MessagePack nesting too deep");
        byte b = U8(data, ref offset);
        switch (b)
        {
            case <= 0x7f: writer.WriteNumberValue(b); return true;
            case >= 0x80 and <= 0x8f: ReadMap(data, ref offset, b & 0x0f, writer, attachments, depth); return true;
            case >= 0x90 and <= 0x9f: ReadArray(data, ref offset, b & 0x0f, writer, attachments, depth); return true;
            case >= 0xa0 and <= 0xbf: writer.WriteStringValue(Utf8(Take(data, ref offset, b & 0x1f))); return true;
            case >= 0xe0: writer.WriteNumberValue((sbyte)b); return true;
            case 0xc0: writer.WriteNullValue(); return true;
            case 0xc2: writer.WriteBooleanValue(false); return true;
            case 0xc3: writer.WriteBooleanValue(true); return true;
            case 0xc4: Bin(Take(data, ref offset, U8(data, ref offset))); return true;
            case 0xc5: Bin(Take(data, ref offset, U16(data, ref offset))); return true;
            case 0xc6: Bin(Take(data, ref offset, U32(data, ref offset))); return true;
            case 0xc7: Ext(Take(data, ref offset, 1L + U8(data, ref offset))); return true;
            case 0xc8: Ext(Take(data, ref offset, 1L + U16(data, ref offset))); return true;
            case 0xc9: Ext(Take(data, ref offset, 1L + U32(data, ref offset))); return true;
            case 0xca: Number(BitConverter.Int32BitsToSingle((int)U32(data, ref offset))); return true;
            case 0xcb: Number(BitConverter.UInt64BitsToDouble(U64(data, ref offset))); return true;
            case 0xcc: writer.WriteNumberValue(U8(data, ref offset)); return true;
            case 0xcd: writer.WriteNumberValue(U16(data, ref offset)); return true;
            case 0xce: writer.WriteNumberValue(U32(data, ref offset)); return true;
            case 0xcf: writer.WriteNumberValue(U64(data, ref offset)); return true;
            case 0xd0: writer.WriteNumberValue((sbyte)U8(data, ref offset)); return true;
            case 0xd1: writer.WriteNumberValue((short)U16(data, ref offset)); return true;
            case 0xd2: writer.WriteNumberValue((int)U32(data, ref offset)); return true;
            case 0xd3: writer.WriteNumberValue((long)U64(data, ref offset)); return true;
            case 0xd4: bool undefined = Take(data, ref offset, 2)[0] == 0; writer.WriteNullValue(); return !undefined;
            case 0xd5: Take(data, ref offset, 3); writer.WriteNullValue(); return true;
            case 0xd6: Take(data, ref offset, 5); writer.WriteNullValue(); return true;
            case 0xd7: FixExt8(Take(data, ref offset, 9)); return true;
            case 0xd8: Take(data, ref offset, 17); writer.WriteNullValue(); return true;
            case 0xd9: writer.WriteStringValue(Utf8(Take(data, ref offset, U8(data, ref offset)))); return true;
            case 0xda: writer.WriteStringValue(Utf8(Take(data, ref offset, U16(data, ref offset)))); return true;
            case 0xdb: writer.WriteStringValue(Utf8(Take(data, ref offset, U32(data, ref offset)))); return true;
            case 0xdc: ReadArray(data, ref offset, U16(data, ref offset), writer, attachments, depth); return true;
            case 0xdd: ReadArray(data, ref offset, U32(data, ref offset), writer, attachments, depth); return true;
            case 0xde: ReadMap(data, ref offset, U16(data, ref offset), writer, attachments, depth); return true;
            case 0xdf: ReadMap(data, ref offset, U32(data, ref offset), writer, attachments, depth); return true;
            default: throw new FormatException($"MessagePack type 0x{b:x2} is not used");
        }

        void Bin(ReadOnlySpan<byte> bytes)
        {
            writer.WriteStartObject();
            writer.WriteBoolean("_placeholder", true);
            writer.WriteNumber("num", attachments.Count);
            writer.WriteEndObject();
            attachments.Add(bytes.ToArray());
        }

        // ext 8–32: the type byte, then the payload; notepack writes ArrayBuffers and typed arrays as type 0.
        void Ext(ReadOnlySpan<byte> ext)
        {
            if (ext[0] == 0) Bin(ext[1..]);
            else writer.WriteNullValue();
        }

        // fixext 8 of type 0 is notepack's Date: milliseconds since the epoch as a signed 64-bit integer.
        // JSON.stringify writes a Date as toISOString(); so does this, when the time is in range.
        void FixExt8(ReadOnlySpan<byte> ext)
        {
            long ms = BinaryPrimitives.ReadInt64BigEndian(ext[1..]);
            if (ext[0] == 0 && ms is >= -62135596800000 and <= 253402300799999)
                writer.WriteStringValue(DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            else writer.WriteNullValue();
        }

        void Number(double value)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue(); // JSON has no NaN or Infinity; JSON.stringify writes null too
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private static string Utf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException("MessagePack string is not UTF-8");
        }
    }

    private static void ReadArray(ReadOnlySpan<byte> data, ref int offset, long count, Utf8JsonWriter writer, List<byte[]> attachments, int depth)
    {
        if (count > data.Length - offset) throw new FormatException("MessagePack array longer than its message");
        writer.WriteStartArray();
        for (long i = 0; i < count; i++) ReadValue(data, ref offset, writer, attachments, depth + 1);
        writer.WriteEndArray();
    }

    private static void ReadMap(ReadOnlySpan<byte> data, ref int offset, long count, Utf8JsonWriter writer, List<byte[]> attachments, int depth)
    {
        if (count * 2 > data.Length - offset) throw new FormatException("MessagePack map longer than its message");
        writer.WriteStartObject();
        for (long i = 0; i < count; i++)
        {
            string key = ReadKey(data, ref offset);
            // notepack writes a key whose value is undefined (socket.io's packet.id when no ack is asked);
            // JSON.stringify leaves such a key out, and so does this.
            if (data.Length - offset >= 3 && data[offset] == 0xd4 && data[offset + 1] == 0)
            {
                offset += 3;
                continue;
            }
            writer.WritePropertyName(key);
            ReadValue(data, ref offset, writer, attachments, depth + 1);
        }
        writer.WriteEndObject();
    }

    private static string ReadKey(ReadOnlySpan<byte> data, ref int offset)
    {
        byte b = data.Length > offset ? data[offset] : throw new FormatException("MessagePack map key missing");
        if (b is >= 0xa0 and <= 0xbf) { offset++; return Utf8(Take(data, ref offset, b & 0x1f)); }
        if (b == 0xd9) { offset++; return Utf8(Take(data, ref offset, U8(data, ref offset))); }
        if (b == 0xda) { offset++; return Utf8(Take(data, ref offset, U16(data, ref offset))); }
        if (b == 0xdb) { offset++; return Utf8(Take(data, ref offset, U32(data, ref offset))); }
        // A non-string key (a number): JavaScript objects would turn it into its text.
        var buffer = new ArrayBufferWriter<byte>(16);
        using (var w = new Utf8JsonWriter(buffer))
            ReadValue(data, ref offset, w, [], MaxDepth);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.ValueKind == JsonValueKind.String ? doc.RootElement.GetString()! : doc.RootElement.GetRawText();
    }
}
