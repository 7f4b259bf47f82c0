namespace Duplex.Protocol;

/// <summary>Comma-separated header lists (RFC 9110 §5.6.1), as Connection, Upgrade and Sec-WebSocket-Protocol use.</summary>
public static class HeaderTokens
{
    /// <summary>The tokens of one or more header values, trimmed, empty ones dropped.</summary>
    public static List<string> Split(IEnumerable<string?> values)
    {
        var tokens = new List<string>();
        foreach (var value in values)
        {
            if (value is null) continue;
            foreach (var part in value.Split(','))
            {
                var token = part.Trim();
                if (token.Length > 0) tokens.Add(token);
            }
        }
        return tokens;
    }

    /// <summary>Whether any token of <paramref name="values"/> equals <paramref name="token"/>, ignoring ASCII case.</summary>
    public static bool Contains(IEnumerable<string?> values, string token)
    {
        foreach (var t in Split(values))
            if (string.Equals(t, token, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
