using System.Text;

namespace Duplex.Conformance.Deflate;

/// <summary>One element of a Sec-WebSocket-Extensions list: a name and its parameters, in order (a value is null when absent).</summary>
internal sealed record ExtensionElement(string Name, IReadOnlyList<KeyValuePair<string, string?>> Parameters)
{
    public override string ToString() =>
        string.Join("; ", Parameters.Select(p => p.Value is null ? p.Key : $"{p.Key}={p.Value}").Prepend(Name));
}

/// <summary>
/// Parses Sec-WebSocket-Extensions (RFC 6455 §9.1): a comma-separated list of extensions, each a token
/// followed by <c>; param</c> or <c>; param=value</c>, where a value is a token or a quoted string.
/// Several header lines are one list joined with commas (RFC 7230 §3.2.2).
/// </summary>
internal static class ExtensionHeader
{
    /// <summary>The elements, or null with <paramref name="error"/> set when the header does not follow the grammar.</summary>
    public static List<ExtensionElement>? Parse(string header, out string? error)
    {
        error = null;
        var elements = new List<ExtensionElement>();
        int i = 0;
        while (true)
        {
            SkipSpace(header, ref i);
            if (i < header.Length && header[i] == ',')
            {
                // Empty list elements are allowed by the #rule (RFC 7230 §7).
                i++;
                continue;
            }
            if (i >= header.Length)
            {
                return elements;
            }
            string? name = Token(header, ref i);
            if (name is null)
            {
                error = $"expected an extension name at position {i}";
                return null;
            }
            var parameters = new List<KeyValuePair<string, string?>>();
            SkipSpace(header, ref i);
            while (i < header.Length && header[i] == ';')
            {
                i++;
                SkipSpace(header, ref i);
                string? key = Token(header, ref i);
                if (key is null)
                {
                    error = $"expected a parameter name at position {i}";
                    return null;
                }
                SkipSpace(header, ref i);
                string? value = null;
                if (i < header.Length && header[i] == '=')
                {
                    i++;
                    SkipSpace(header, ref i);
                    value = i < header.Length && header[i] == '"' ? Quoted(header, ref i) : Token(header, ref i);
                    if (value is null)
                    {
                        error = $"expected a value for parameter '{key}' at position {i}";
                        return null;
                    }
                    SkipSpace(header, ref i);
                }
                parameters.Add(new(key, value));
            }
            elements.Add(new ExtensionElement(name, parameters));
            if (i < header.Length && header[i] != ',')
            {
                error = $"unexpected '{header[i]}' at position {i}";
                return null;
            }
        }
    }

    private static void SkipSpace(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t')
        {
            i++;
        }
    }

    // RFC 7230 §3.2.6 tchar.
    private static bool IsTokenChar(char c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
        || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);

    private static string? Token(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && IsTokenChar(s[i]))
        {
            i++;
        }
        return i > start ? s[start..i] : null;
    }

    private static string? Quoted(string s, ref int i)
    {
        var value = new StringBuilder();
        for (i++; i < s.Length; i++)
        {
            if (s[i] == '"')
            {
                i++;
                // RFC 6455 §9.1: a quoted value must, once unquoted, still be a token.
                string text = value.ToString();
                return text.Length > 0 && text.All(IsTokenChar) ? text : null;
            }
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                i++;
            }
            value.Append(s[i]);
        }
        return null;
    }
}
