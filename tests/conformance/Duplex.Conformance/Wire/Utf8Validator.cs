namespace Duplex.Conformance.Wire;

/// <summary>
/// Streaming UTF-8 validation per RFC 3629 §4 (no overlong forms, no surrogates, nothing above
/// U+10FFFF). It fails on the first octet that can no longer start or continue a valid sequence,
/// which is what RFC 6455 §8.1 asks of an endpoint receiving a text message.
/// </summary>
internal sealed class Utf8Validator
{
    private int _pending;
    private byte _low = 0x80;
    private byte _high = 0xBF;
    private bool _failed;

    public bool IsValid => !_failed;

    /// <summary>True when the octets seen so far end on a code point boundary.</summary>
    public bool IsComplete => !_failed && _pending == 0;

    public void Reset()
    {
        _pending = 0;
        _low = 0x80;
        _high = 0xBF;
        _failed = false;
    }

    /// <summary>Feeds more octets; returns false as soon as the stream can no longer be valid UTF-8.</summary>
    public bool Feed(ReadOnlySpan<byte> octets)
    {
        if (_failed)
        {
            return false;
        }
        foreach (byte b in octets)
        {
            if (_pending == 0)
            {
                if (b <= 0x7F)
                {
                    continue;
                }
                // The allowed range of the second octet is what rules out overlongs (E0, F0),
                // surrogates (ED) and code points beyond U+10FFFF (F4).
                (_pending, _low, _high) = b switch
                {
                    >= 0xC2 and <= 0xDF => (1, (byte)0x80, (byte)0xBF),
                    0xE0 => (2, (byte)0xA0, (byte)0xBF),
                    0xED => (2, (byte)0x80, (byte)0x9F),
                    >= 0xE1 and <= 0xEF => (2, (byte)0x80, (byte)0xBF),
                    0xF0 => (3, (byte)0x90, (byte)0xBF),
                    >= 0xF1 and <= 0xF3 => (3, (byte)0x80, (byte)0xBF),
                    0xF4 => (3, (byte)0x80, (byte)0x8F),
                    _ => (-1, (byte)0, (byte)0),
                };
                if (_pending < 0)
                {
                    _failed = true;
                    return false;
                }
            }
            else
            {
                if (b < _low || b > _high)
                {
                    _failed = true;
                    return false;
                }
                _low = 0x80;
                _high = 0xBF;
                _pending--;
            }
        }
        return true;
    }

    public static bool IsValidUtf8(ReadOnlySpan<byte> octets)
    {
        var validator = new Utf8Validator();
        return validator.Feed(octets) && validator.IsComplete;
    }
}
