using System.Text.Json;
using System.Text.Json.Serialization;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// Event arguments through an application's source-generated JSON context, as a Native AOT app runs
/// them: no reflection, the app's types from its context, Duplex's own (strings, JsonElement, bytes)
/// from Duplex's.
/// </summary>
public sealed class SourceGeneratedJsonTests
{
    private static JsonSerializerOptions ServerJson() =>
        new SocketIOServer(new SocketIOOptions
        {
            JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = GameJsonContext.Default },
        }).JsonOptions;

    [Fact]
    public void Application_types_and_Duplex_types_round_trip_through_a_source_generated_context()
    {
        var json = ServerJson();
        var packets = SocketIOEncoder.Event("/", "move", ["player-1", new Position(3, 4), new byte[] { 7, 8 }], 5, json);

        Assert.Equal(2, packets.Length);   // the text part and one attachment
        Assert.Equal("51-5[\"move\",\"player-1\",{\"x\":3,\"y\":4},{\"_placeholder\":true,\"num\":0}]", packets[0].Text);

        Assert.True(SocketIOPacketParser.TryParse(packets[0].Text!, out var packet));
        var args = SocketIOArgs.From(packet.Data, 1, [packets[1].Binary!], json);
        Assert.Equal("player-1", args.Get<string>(0));
        Assert.Equal(new Position(3, 4), args.Get<Position>(1));
        Assert.Equal(new byte[] { 7, 8 }, args.GetBytes(2));
    }

    [Fact]
    public void A_type_no_context_knows_is_refused_rather_than_reflected_over()
    {
        var json = ServerJson();
        var error = Assert.Throws<NotSupportedException>(() => SocketIOEncoder.Event("/", "x", [new Unlisted("a")], null, json));
        Assert.Contains(nameof(Unlisted), error.Message);
    }

    [Fact]
    public void Options_without_a_resolver_keep_reflection_where_it_is_on()
    {
        var json = new SocketIOServer().JsonOptions;
        var packets = SocketIOEncoder.Event("/", "x", [new Unlisted("a")], null, json);
        Assert.Equal("2[\"x\",{\"name\":\"a\"}]", packets[0].Text);
    }

    public sealed record Position(int X, int Y);

    public sealed record Unlisted(string Name);
}

[JsonSerializable(typeof(SourceGeneratedJsonTests.Position))]
internal sealed partial class GameJsonContext : JsonSerializerContext;
