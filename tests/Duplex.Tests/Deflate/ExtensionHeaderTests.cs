using Duplex.Protocol.Deflate;

namespace Duplex.Tests.Deflate;

public class ExtensionHeaderTests
{
    [Fact]
    public void Reads_names_and_parameters_of_every_element()
    {
        var elements = ExtensionHeader.Parse(["foo, bar; baz=2", "permessage-deflate;a; b = \"c\\\"\"  ,qux"]);
        Assert.Equal(["foo", "bar", "permessage-deflate", "qux"], elements.Select(e => e.Name));
        Assert.Equal([new ExtensionParameter("baz", "2")], elements[1].Parameters);
        Assert.Equal("a", elements[2].Parameters[0].Name);
        Assert.Null(elements[2].Parameters[0].Value);
        // The escaped quote makes the value c", which is not a token (RFC 6455 §9.1).
        Assert.False(elements[2].IsWellFormed);
        Assert.True(elements[3].IsWellFormed);
    }

    [Fact]
    public void Unescapes_quoted_values()
    {
        var element = Assert.Single(ExtensionHeader.Parse("x; y=\"1\\0\""));
        Assert.True(element.IsWellFormed);
        Assert.Equal("10", element.Parameters[0].Value);
    }

    [Fact]
    public void A_malformed_element_ending_in_a_backslash_inside_quotes_is_reported_not_thrown()
    {
        // Found by fuzzing (tests/fuzz/regressions/deflate-negotiation): skipping to the next comma stepped
        // past the end of the value over the backslash, and the next read threw IndexOutOfRangeException.
        var elements = ExtensionHeader.Parse("a b \"x\\");
        var element = Assert.Single(elements);
        Assert.False(element.IsWellFormed);
        Assert.False(PerMessageDeflateNegotiation.TryAcceptResponse("permessage-deflate x\"\\", new PerMessageDeflateOptions { Enabled = true }, out _, out var error));
        Assert.Contains("malformed", error);
    }

    [Fact]
    public void Empty_list_elements_are_skipped()
    {
        Assert.Equal(["a", "b"], ExtensionHeader.Parse(" , a,, ,b ,").Select(e => e.Name));
    }

    [Theory]
    [InlineData("a b", "unexpected")]
    [InlineData("a; =1", "parameter name")]
    [InlineData("a; b=", "value")]
    [InlineData("a; b=\"unterminated", "unterminated")]
    [InlineData("; b", "extension name")]
    [InlineData("a; b=c=d", "unexpected")]
    public void Reports_a_malformed_element_and_resumes_after_it(string bad, string reason)
    {
        var elements = ExtensionHeader.Parse(bad + ", good; p=1");
        Assert.Contains(reason, elements[0].SyntaxError);
        if (!bad.Contains("unterminated"))
        {
            Assert.Equal(2, elements.Count);
            Assert.True(elements[1].IsWellFormed);
            Assert.Equal("good", elements[1].Name);
        }
    }
}
