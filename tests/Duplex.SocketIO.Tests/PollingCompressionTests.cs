using System.IO.Compression;
using System.Net;
using System.Text;
using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.Tests;

/// <summary>HTTP compression of polling responses, as the reference's <c>httpCompression</c> (on, threshold 1024).</summary>
public sealed class PollingCompressionTests
{
    private static readonly string Big = string.Concat(Enumerable.Repeat("compressible polling text ", 100));

    private static async Task<(HttpResponse Response, byte[] Body)> PollAsync(EngineSessionHarness harness, string? acceptEncoding)
    {
        var context = EngineSessionHarness.NewRequest(HttpMethods.Get);
        if (acceptEncoding is not null) context.Request.Headers.AcceptEncoding = acceptEncoding;
        await harness.Session.HandlePollingRequestAsync(context).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        return (context.Response, ((MemoryStream)context.Response.Body).ToArray());
    }

    private static string Decode(string? encoding, byte[] body)
    {
        using Stream input = encoding switch
        {
            "gzip" => new GZipStream(new MemoryStream(body), CompressionMode.Decompress),
            "deflate" => new ZLibStream(new MemoryStream(body), CompressionMode.Decompress),
            _ => new MemoryStream(body),
        };
        using var reader = new StreamReader(input, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    [Theory]
    [InlineData("gzip, deflate, br", "gzip")]
    [InlineData("deflate", "deflate")]
    [InlineData("gzip;q=0, deflate;q=0.5", "deflate")]
    [InlineData("*", "gzip")]
    [InlineData("br", null)]
    [InlineData(null, null)]
    public async Task A_large_poll_response_is_compressed_as_accept_encoding_allows(string? acceptEncoding, string? expected)
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        harness.Session.Send(EnginePacket.Message(Big));
        var (response, body) = await PollAsync(harness, acceptEncoding);
        string? encoding = response.Headers.ContentEncoding.Count > 0 ? response.Headers.ContentEncoding.ToString() : null;
        Assert.Equal(expected, encoding);
        Assert.Equal(body.Length, response.ContentLength);
        Assert.Equal("4" + Big, Decode(encoding, body));
        if (expected is not null) Assert.True(body.Length < Big.Length / 4);
    }

    [Fact]
    public async Task A_response_under_the_threshold_goes_out_as_it_is()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        harness.Session.Send(EnginePacket.Message(Big[..1000]));
        var (response, body) = await PollAsync(harness, "gzip");
        Assert.Equal(0, response.Headers.ContentEncoding.Count);
        Assert.Equal("4" + Big[..1000], Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task A_response_of_compress_false_packets_only_is_not_compressed_but_one_with_any_other_is()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        harness.Session.Send(EnginePacket.Message(Big), EngineSendFlags.NoCompression);
        harness.Session.Send(EnginePacket.Message(Big), EngineSendFlags.NoCompression);
        var (plain, _) = await PollAsync(harness, "gzip");
        Assert.Equal(0, plain.Headers.ContentEncoding.Count);

        harness.Session.Send(EnginePacket.Message(Big), EngineSendFlags.NoCompression);
        harness.Session.Send(EnginePacket.Message("x"));
        var (mixed, body) = await PollAsync(harness, "gzip");
        Assert.Equal("gzip", mixed.Headers.ContentEncoding.ToString());
        Assert.Equal("4" + Big + "\u001e4x", Decode("gzip", body));
    }

    [Fact]
    public async Task Without_HttpCompression_nothing_is_compressed()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync(o => o.HttpCompression = null);
        harness.Session.Send(EnginePacket.Message(Big));
        var (response, body) = await PollAsync(harness, "gzip");
        Assert.Equal(0, response.Headers.ContentEncoding.Count);
        Assert.Equal("4" + Big, Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task A_real_http_client_asking_for_gzip_gets_the_polling_payload_compressed()
    {
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(socket => { }));
        using var http = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
        var open = await http.GetStringAsync(server.Url + "/socket.io/?EIO=4&transport=polling");
        string sid = System.Text.Json.JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!;
        Assert.True(server.IO.Engine.TryGetSession(sid, out var session));
        session.Send(EnginePacket.Message(Big));
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Url + $"/socket.io/?EIO=4&transport=polling&sid={sid}");
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var response = await http.SendAsync(request);
        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        Assert.Equal("4" + Big, Decode("gzip", await response.Content.ReadAsByteArrayAsync()));
    }
}
