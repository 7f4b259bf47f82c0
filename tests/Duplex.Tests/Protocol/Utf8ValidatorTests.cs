using System.Text;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class Utf8ValidatorTests
{
    private static bool ValidateWhole(byte[] bytes)
    {
        var v = new Utf8Validator();
        return v.Feed(bytes) && v.IsComplete;
    }

    private static bool ValidateSplit(byte[] bytes, params int[] cuts)
    {
        var v = new Utf8Validator();
        int prev = 0;
        foreach (int cut in cuts.Append(bytes.Length))
        {
            if (!v.Feed(bytes.AsSpan(prev, cut - prev))) return false;
            prev = cut;
        }
        return v.IsComplete;
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    public static TheoryData<string> ValidTexts => new()
    {
        "",
        "plain ascii",
        "κόσμε",                  // Autobahn 6.2: "Hello-µ@ßöäüàá-UTF-8!!" style mixed scripts
        "Hello-µ@ßöäüàá-UTF-8!!",
        "€ 𝄞 😀 中文 ﷽",
        "\u0080\u07FF\u0800\uFFFF",
        "\U00010000\U0010FFFF",
        new string('a', 100) + "é" + new string('b', 100) + "😀",
    };

    [Theory]
    [MemberData(nameof(ValidTexts))]
    public void Accepts_valid_text_split_at_every_point(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.True(ValidateWhole(bytes));
        for (int i = 0; i <= bytes.Length; i++)
            Assert.True(ValidateSplit(bytes, i), $"split at {i}");
        for (int i = 0; i <= bytes.Length; i++)
            for (int j = i; j <= Math.Min(bytes.Length, i + 5); j++)
                Assert.True(ValidateSplit(bytes, i, j), $"split at {i} and {j}");
    }

    [Fact]
    public void Accepts_every_code_point_fed_one_byte_at_a_time()
    {
        var v = new Utf8Validator();
        var buffer = new byte[4];
        for (int cp = 0; cp <= 0x10FFFF; cp += cp < 0x800 ? 1 : 97)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            int n = new Rune(cp).EncodeToUtf8(buffer);
            for (int i = 0; i < n; i++) Assert.True(v.Feed(buffer.AsSpan(i, 1)), $"U+{cp:X4} byte {i}");
            Assert.True(v.IsComplete);
        }
    }

    // The classic invalid inputs of Autobahn's 6.x cases (after Markus Kuhn's UTF-8 stress test).
    [Theory]
    [InlineData("C0 80")]             // overlong NUL
    [InlineData("C0 AF")]             // overlong '/'
    [InlineData("C1 BF")]             // overlong, 2 bytes
    [InlineData("E0 80 AF")]          // overlong '/', 3 bytes
    [InlineData("E0 9F BF")]          // overlong U+07FF
    [InlineData("F0 80 80 AF")]       // overlong '/', 4 bytes
    [InlineData("F0 8F BF BF")]       // overlong U+FFFF
    [InlineData("F8 88 80 80 AF")]    // 5-byte form
    [InlineData("FC 84 80 80 80 AF")] // 6-byte form
    [InlineData("ED A0 80")]          // U+D800 high surrogate
    [InlineData("ED AD BF")]          // U+DB7F
    [InlineData("ED BF BF")]          // U+DFFF low surrogate
    [InlineData("ED A0 80 ED B0 80")] // surrogate pair encoded as CESU-8
    [InlineData("F4 90 80 80")]       // U+110000, above U+10FFFF
    [InlineData("F5 80 80 80")]
    [InlineData("F7 BF BF BF")]
    [InlineData("80")]                // lone continuation
    [InlineData("BF")]
    [InlineData("80 BF 80")]
    [InlineData("61 80 62")]
    [InlineData("C2 41")]             // lead byte followed by ASCII
    [InlineData("E2 82 41")]
    [InlineData("FE")]
    [InlineData("FF")]
    [InlineData("FE FE FF FF")]
    [InlineData("CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64")] // Autobahn 6.4.x style: valid then surrogate
    [InlineData("CE BA E1 BD B9 CF 83 CE BC CE B5 F4 90 80 80 65 64 69 74 65 64")]
    public void Rejects_invalid_sequence_whole_and_at_every_split(string hex)
    {
        var bytes = Hex(hex);
        Assert.False(ValidateWhole(bytes));
        for (int i = 0; i <= bytes.Length; i++) Assert.False(ValidateSplit(bytes, i), $"split at {i}");
        var v = new Utf8Validator();
        bool ok = true;
        foreach (var b in bytes) ok &= v.Feed([b]);
        Assert.False(ok && v.IsComplete);
    }

    [Theory]
    [InlineData("C2")]
    [InlineData("E2 82")]
    [InlineData("F0 9F 98")]
    [InlineData("61 62 F0")]
    public void Reports_text_truncated_inside_a_sequence_as_incomplete(string hex)
    {
        var v = new Utf8Validator();
        Assert.True(v.Feed(Hex(hex)));
        Assert.False(v.IsComplete);
    }

    [Theory]
    [InlineData("ED A0", 1)]       // surrogate: certain at the second byte
    [InlineData("F4 90", 1)]       // > U+10FFFF: certain at the second byte
    [InlineData("E0 80", 1)]       // overlong: certain at the second byte
    [InlineData("F0 80", 1)]
    [InlineData("C0", 0)]
    [InlineData("F5", 0)]
    public void Fails_at_the_first_byte_that_makes_the_input_invalid(string hex, int failingIndex)
    {
        var bytes = Hex(hex);
        var v = new Utf8Validator();
        for (int i = 0; i < bytes.Length; i++)
        {
            bool ok = v.Feed(bytes.AsSpan(i, 1));
            Assert.Equal(i < failingIndex, ok);
            if (!ok) break;
        }
        // And fed as one span, too, without waiting for more.
        Assert.False(new Utf8Validator().Feed(bytes));
    }

    [Fact]
    public void Fails_fast_on_an_early_invalid_byte_in_a_long_stream()
    {
        // A prefix with an invalid byte is rejected on its own: the validator does not need the rest.
        var prefix = Encoding.UTF8.GetBytes("valid ascii then é then ");
        var bad = prefix.Append((byte)0xFF).ToArray();
        var v = new Utf8Validator();
        Assert.False(v.Feed(bad));

        // Streaming 1 KiB chunks: the chunk holding the bad byte fails, not the last one.
        var big = Encoding.UTF8.GetBytes(new string('x', 1 << 20));
        big[5000] = 0xC0;
        v = new Utf8Validator();
        int failedChunk = -1;
        for (int c = 0; c * 1024 < big.Length; c++)
        {
            if (!v.Feed(big.AsSpan(c * 1024, 1024))) { failedChunk = c; break; }
        }
        Assert.Equal(5000 / 1024, failedChunk);
    }

    [Fact]
    public void Reset_forgets_a_sequence_in_progress()
    {
        var v = new Utf8Validator();
        Assert.True(v.Feed([0xE2]));
        Assert.False(v.IsComplete);
        v.Reset();
        Assert.True(v.IsComplete);
        Assert.True(v.Feed("a"u8));
    }

    [Fact]
    public void Agrees_with_the_bcl_on_random_bytes()
    {
        var random = new Random(6);
        byte[] alphabet = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF];
        for (int trial = 0; trial < 20_000; trial++)
        {
            var bytes = new byte[random.Next(0, 12)];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = alphabet[random.Next(alphabet.Length)];
            bool expected = System.Text.Unicode.Utf8.IsValid(bytes);
            int cut = random.Next(0, bytes.Length + 1);
            Assert.True(expected == ValidateSplit(bytes, cut), Convert.ToHexString(bytes) + " cut " + cut);
        }
    }
}
