using System.Security.Cryptography;
using System.Text;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class HandshakeKeysTests
{
    private const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    // The expected answer built another way than the code under test: the whole string at once,
    // through an incremental hash, per RFC 6455 §4.2.2 item 5.4.
    private static string ExpectedAccept(string key)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes(key.Trim() + Guid));
        return Convert.ToBase64String(sha1.GetHashAndReset());
    }

    [Fact]
    // RFC 6455 §1.3 and §4.2.2 give this pair.
    public void Answers_the_rfc_6455_sample_key_with_its_accept_value()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", HandshakeKeys.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="));
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", HandshakeKeys.ComputeAccept(" \tdGhlIHNhbXBsZSBub25jZQ== "));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(24)]
    [InlineData(60)]
    [InlineData(61)] // one past the old 96-byte stack buffer
    [InlineData(92)]
    [InlineData(93)]
    [InlineData(4096)]
    [InlineData(100_000)]
    public void Answers_a_key_of_any_length_with_sha1_of_the_key_and_guid(int length)
    {
        var key = string.Concat(Enumerable.Range(0, length).Select(i => (char)('A' + i % 26)));
        var accept = HandshakeKeys.ComputeAccept(key);
        Assert.Equal(ExpectedAccept(key), accept);
        Assert.Equal(28, accept.Length);
    }

    [Fact]
    public void Answers_a_long_padded_key_as_its_trimmed_self()
    {
        var key = new string('k', 500);
        Assert.Equal(ExpectedAccept(key), HandshakeKeys.ComputeAccept("   " + key + "\t "));
    }

    [Fact]
    public void Rejects_a_null_key_with_ArgumentNullException() =>
        Assert.Throws<ArgumentNullException>(() => HandshakeKeys.ComputeAccept(null!));
}
