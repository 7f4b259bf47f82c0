using System.Text;
using System.Text.Json;

namespace Duplex.Cli;

/// <summary>How `connect` and `listen` read stdin lines into messages and print the messages they get.</summary>
internal sealed class MessageFormat
{
    /// <summary>stdin lines are hex (--hex) or base64 (--base64) for binary messages, or text sent as binary (--binary).</summary>
    public enum Input { Text, Binary, Hex, Base64 }

    public Input Mode { get; init; } = Input.Text;

    /// <summary>--json: text messages that parse as JSON are printed indented.</summary>
    public bool PrettyJson { get; init; }

    public static MessageFormat From(Arguments parsed)
    {
        int chosen = (parsed.Flag("binary") ? 1 : 0) + (parsed.Flag("hex") ? 1 : 0) + (parsed.Flag("base64") ? 1 : 0);
        if (chosen > 1) throw new ArgumentException("choose one of --binary, --hex and --base64");
        return new MessageFormat
        {
            Mode = parsed.Flag("hex") ? Input.Hex : parsed.Flag("base64") ? Input.Base64 : parsed.Flag("binary") ? Input.Binary : Input.Text,
            PrettyJson = parsed.Flag("json"),
        };
    }

    public static readonly string[] Flags = ["binary", "hex", "base64", "json"];

    /// <summary>A stdin line as the message to send, or an error to print (the line is skipped).</summary>
    public (ReadOnlyMemory<byte> Data, WebSocketMessageType Type, string? Error) Parse(string line)
    {
        switch (Mode)
        {
            case Input.Hex:
                var hex = line.Replace(" ", "", StringComparison.Ordinal);
                try { return (Convert.FromHexString(hex), WebSocketMessageType.Binary, null); }
                catch (FormatException) { return (default, default, $"not hex: '{Safe(line)}'"); }
            case Input.Base64:
                try { return (Convert.FromBase64String(line.Trim()), WebSocketMessageType.Binary, null); }
                catch (FormatException) { return (default, default, $"not base64: '{Safe(line)}'"); }
            case Input.Binary:
                return (Encoding.UTF8.GetBytes(line), WebSocketMessageType.Binary, null);
            default:
                return (Encoding.UTF8.GetBytes(line), WebSocketMessageType.Text, null);
        }
    }

    /// <summary>A received message as one printable string (no terminal control characters get through).</summary>
    public string Show(in WebSocketMessage message)
    {
        if (message.IsText)
        {
            var text = message.Text;
            if (PrettyJson && TryIndent(text) is { } indented) return Safe(indented, keepNewlines: true);
            return Safe(text);
        }
        var data = message.Data.Span;
        return Mode switch
        {
            Input.Hex => Convert.ToHexString(data),
            Input.Base64 => Convert.ToBase64String(data),
            _ => $"<binary {message.Length} bytes> {Convert.ToHexString(data[..Math.Min(32, data.Length)])}{(data.Length > 32 ? "…" : "")}",
        };
    }

    private static string? TryIndent(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(text.Length * 2);
            using (var writer = new Utf8JsonWriter(buffer, Indented)) document.RootElement.WriteTo(writer);
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// C0 and C1 control characters and DEL written as escapes (\n, \r, \t, \e, \xNN, \u{NN}), so that a
    /// peer cannot move the cursor, recolour or retitle the terminal (as websocat and curl guard).
    /// </summary>
    public static string Safe(string text, bool keepNewlines = false)
    {
        int i = 0;
        while (i < text.Length && !IsControl(text[i], keepNewlines)) i++;
        if (i == text.Length) return text;
        var sb = new StringBuilder(text.Length + 16).Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (!IsControl(c, keepNewlines)) { sb.Append(c); continue; }
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\x1b' => "\\e",
                < '\x80' => $"\\x{(int)c:x2}",
                _ => $"\\u{{{(int)c:x2}}}",
            });
        }
        return sb.ToString();
    }

    private static bool IsControl(char c, bool keepNewlines) =>
        (c < 0x20 && !(keepNewlines && c == '\n')) || c == 0x7F || (c >= 0x80 && c <= 0x9F);
}
