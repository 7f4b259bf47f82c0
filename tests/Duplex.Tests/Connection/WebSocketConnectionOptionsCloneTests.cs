using System.Reflection;

namespace Duplex.Tests.Connection;

public class WebSocketConnectionOptionsCloneTests
{
    [Fact]
    public void Clone_does_not_share_compression_options_with_the_original()
    {
        var options = new WebSocketConnectionOptions();
        options.Compression.Enabled = true;
        options.Compression.MinMessageSizeToCompress = 128;
        var copy = options.Clone();

        options.Compression.Enabled = false;
        options.Compression.MinMessageSizeToCompress = 1;
        options.Compression.CompressionLevel = 1;

        Assert.True(copy.Compression.Enabled);
        Assert.Equal(128, copy.Compression.MinMessageSizeToCompress);
        Assert.Equal(6, copy.Compression.CompressionLevel);
    }

    [Fact]
    public void Clone_does_not_share_the_receive_rate_limit_with_the_original()
    {
        var options = new WebSocketConnectionOptions();
        options.ReceiveRateLimit.MessagesPerSecond = 100;
        var copy = options.Clone();

        options.ReceiveRateLimit.MessagesPerSecond = null;
        options.ReceiveRateLimit.BytesPerSecond = 5;
        options.ReceiveRateLimit.Policy = RateLimitPolicy.Slow;

        Assert.Equal(100, copy.ReceiveRateLimit.MessagesPerSecond);
        Assert.Null(copy.ReceiveRateLimit.BytesPerSecond);
        Assert.Equal(RateLimitPolicy.Close, copy.ReceiveRateLimit.Policy);
    }

    [Fact]
    // Pins the rule for options added later: no mutable object of the original may reach the copy.
    public void Clone_shares_no_nested_options_object_with_the_original()
    {
        var options = new WebSocketConnectionOptions();
        var copy = options.Clone();
        foreach (var property in typeof(WebSocketConnectionOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.PropertyType.IsValueType || property.PropertyType == typeof(string)) continue;
            var original = property.GetValue(options);
            Assert.NotNull(original);
            Assert.False(ReferenceEquals(original, property.GetValue(copy)), $"{property.Name} is shared by the copy");
        }
    }
}
