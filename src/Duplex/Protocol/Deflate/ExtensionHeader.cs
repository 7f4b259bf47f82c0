namespace Duplex.Protocol.Deflate;

/// <summary>One <c>name[=value]</c> parameter of an extension; <see cref="Value"/> is null when it has no value.</summary>
public readonly record struct ExtensionParameter(string Name, string? Value);

/// <summary>
/// One element of a Sec-WebSocket-Extensions list: an extension name and its parameters, or a
/// description of why the element could not be read (<see cref="SyntaxError"/>).
/// </summary>
public sealed record ExtensionElement(string Name, IReadOnlyList<ExtensionParameter> Parameters, string? SyntaxError)
{
    /// <summary>Whether the element was read without a syntax error (<see cref="SyntaxError"/> is null).</summary>
    public bool IsWellFormed => SyntaxError is null;
}

/// <summary>
/// Reads Sec-WebSocket-Extensions values by RFC 6455 §9.1's grammar:
/// <c>1#( token *( ";" token [ "=" ( token | quoted-string ) ] ) )</c>, where a quoted value must
/// itself be a token once unquoted. A malformed element is reported, not thrown, and reading resumes
/// at the next comma outside quotes, so one bad offer does not hide the ones after it.
/// </summary>
public static class ExtensionHeader
{
    /// <summary>
    /// The elements of every value, in order (a header may come as several lines); null values are
    /// skipped. Malformed elements are returned with <see cref="ExtensionElement.SyntaxError"/> set.
    /// </summary>
    public static List<ExtensionElement> Parse(IEnumerable<string?> values)
    {
        var elements = new List<ExtensionElement>();
        foreach (var value in values)
            if (value is not null) ParseValue(value, elements);
        return elements;
    }

    /// <summary>The elements of one header value; null gives an empty list.</summary>
    public static List<ExtensionElement> Parse(string? value) => Parse([value]);

    private static void ParseValue(string s, List<ExtensionElement> elements)
    {
        int i = 0;
        while (true)
        {
            SkipWhitespace(s, ref i);
            if (i == s.Length) return;
            // RFC 9110 §5.6.1: recipients accept empty list elements.
            if (s[i] == ',')
            {
                i++;
                continue;
            }
            elements.Add(ParseElement(s, ref i));
        }
    }

    private static ExtensionElement ParseElement(string s, ref int i)
    {
        var parameters = new List<ExtensionParameter>();
        var name = ReadToken(s, ref i);
        if (name.Length == 0) return Malformed(s, ref i, name, parameters, "expected an extension name");
        SkipWhitespace(s, ref i);
        while (i < s.Length && s[i] == ';')
        {
            i++;
            SkipWhitespace(s, ref i);
            var parameterName = ReadToken(s, ref i);
            if (parameterName.Length == 0) return Malformed(s, ref i, name, parameters, "expected a parameter name after ';'");
            SkipWhitespace(s, ref i);
            string? parameterValue = null;
            if (i < s.Length && s[i] == '=')
            {
                i++;
                SkipWhitespace(s, ref i);
                if (i < s.Length && s[i] == '"')
                {
                    if (!TryReadQuoted(s, ref i, out parameterValue))
                        return Malformed(s, ref i, name, parameters, $"unterminated quoted value of '{parameterName}'");
                    // RFC 6455 §9.1: a quoted value must conform to the token rule once unquoted.
                    if (parameterValue.Length == 0 || !IsToken(parameterValue))
                        return Malformed(s, ref i, name, parameters, $"quoted value of '{parameterName}' is not a token");
                }
                else
                {
                    parameterValue = ReadToken(s, ref i);
                    if (parameterValue.Length == 0) return Malformed(s, ref i, name, parameters, $"expected a value for '{parameterName}'");
                }
                SkipWhitespace(s, ref i);
            }
            parameters.Add(new(parameterName, parameterValue));
        }
        if (i < s.Length && s[i] != ',')
            return Malformed(s, ref i, name, parameters, $"unexpected '{s[i]}'");
        return new(name, parameters, null);
    }

    private static ExtensionElement Malformed(string s, ref int i, string name, List<ExtensionParameter> parameters, string error)
    {
        // Resume after the next comma that is not inside a quoted string.
        bool quoted = false;
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (quoted)
            {
                // A backslash quotes the next character, if there is one: at the very end it stays put.
                if (c == '\\' && i + 1 < s.Length) i++;
                else if (c == '"') quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') break;
        }
        return new(name, parameters, error);
    }

    private static bool TryReadQuoted(string s, ref int i, out string value)
    {
        var sb = new System.Text.StringBuilder();
        for (i++; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '"')
            {
                i++;
                value = sb.ToString();
                return true;
            }
            // RFC 9110 §5.6.4: a backslash quotes the next character.
            if (c == '\\')
            {
                if (++i == s.Length) break;
                c = s[i];
            }
            sb.Append(c);
        }
        value = "";
        return false;
    }

    private static string ReadToken(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && IsTokenChar(s[i])) i++;
        return s[start..i];
    }

    private static void SkipWhitespace(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t') i++;
    }

    private static bool IsToken(string s)
    {
        foreach (var c in s)
            if (!IsTokenChar(c)) return false;
        return true;
    }

    // RFC 9110 §5.6.2: tchar.
    private static bool IsTokenChar(char c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
        or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
}
