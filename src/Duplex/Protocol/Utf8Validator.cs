namespace Duplex.Protocol;

/// <summary>
/// Streaming UTF-8 validation (RFC 3629) across frame and chunk boundaries that fails as soon as an
/// invalid sequence is certain, as RFC 6455 §8.1 asks ("fail fast"), rather than at the end of a message.
/// </summary>
public struct Utf8Validator
{
    // Bytes still expected for the sequence in progress, and the allowed range of the next byte
    // (narrower than 80..BF right after E0, ED, F0 and F4: overlongs, surrogates, > U+10FFFF).
    private byte _needed;
    private byte _nextLow;
    private byte _nextHigh;

    /// <summary>True when the bytes so far end on a character boundary.</summary>
    public readonly bool IsComplete => _needed == 0;

    /// <summary>Forgets any sequence in progress, for a new message.</summary>
    public void Reset() => this = default;

    /// <summary>Feeds the next bytes; returns false as soon as the stream can no longer be valid UTF-8.</summary>
    public bool Feed(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Length)
        {
            if (_needed == 0)
            {
                // Fast path: skip ASCII, then validate whole characters with the vectorised BCL check.
                int nonAscii = bytes.Slice(i).IndexOfAnyExceptInRange((byte)0, (byte)0x7F);
                if (nonAscii < 0) return true;
                i += nonAscii;
                int tail = StartOfIncompleteTail(bytes.Slice(i));
                if (tail > 0)
                {
                    if (!System.Text.Unicode.Utf8.IsValid(bytes.Slice(i, tail))) return false;
                    i += tail;
                    if (i == bytes.Length) return true;
                }
                if (!Start(bytes[i])) return false;
                i++;
            }
            else
            {
                byte b = bytes[i];
                if (b < _nextLow || b > _nextHigh) return false;
                _needed--;
                _nextLow = 0x80;
                _nextHigh = 0xBF;
                i++;
            }
        }
        return true;
    }

    private bool Start(byte lead)
    {
        switch (lead)
        {
            case < 0x80: return true;
            case < 0xC2: return false; // continuation byte or overlong 2-byte lead
            case < 0xE0: Expect(1, 0x80, 0xBF); return true;
            case 0xE0: Expect(2, 0xA0, 0xBF); return true;
            case 0xED: Expect(2, 0x80, 0x9F); return true;
            case < 0xF0: Expect(2, 0x80, 0xBF); return true;
            case 0xF0: Expect(3, 0x90, 0xBF); return true;
            case < 0xF4: Expect(3, 0x80, 0xBF); return true;
            case 0xF4: Expect(3, 0x80, 0x8F); return true;
            default: return false;
        }
    }

    private void Expect(int needed, byte low, byte high)
    {
        _needed = (byte)needed;
        _nextLow = low;
        _nextHigh = high;
    }

    /// <summary>
    /// Length of the prefix of <paramref name="span"/> that ends on what could be a character boundary:
    /// everything but a trailing lead byte whose sequence is not complete yet.
    /// </summary>
    private static int StartOfIncompleteTail(ReadOnlySpan<byte> span)
    {
        int end = span.Length;
        for (int back = 1; back <= 3 && back <= end; back++)
        {
            byte b = span[end - back];
            if ((b & 0xC0) == 0x80) continue; // continuation: keep looking for its lead
            int length = b switch { < 0x80 => 1, >= 0xF0 => 4, >= 0xE0 => 3, >= 0xC0 => 2, _ => 1 };
            return length > back ? end - back : end;
        }
        return end;
    }
}
