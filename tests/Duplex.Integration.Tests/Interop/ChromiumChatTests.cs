using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// The seed's chat as users meet it: `duplex serve`, its /chat page on the official socket.io-client
/// browser build, and two headless Chromium contexts (two users) driven by tests/peers/chat-browser.js.
/// </summary>
public sealed partial class ChromiumChatTests
{
    private static readonly TimeSpan BrowserTimeout = TimeSpan.FromSeconds(75);

    [Fact]
    public async Task Two_browsers_chat_through_a_room_on_duplex_serve()
    {
        _ = InteropPeers.Chromium;
        await using var serve = await DuplexServe.StartAsync();

        // The page needs the browser build the Duplex.Cli build embeds from npm; without it the test
        // would only time out in the browser, so say what is missing instead.
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        {
            using var script = await http.GetAsync(new Uri(serve.BaseUri, "/socket.io/socket.io.js"));
            if (script.StatusCode == HttpStatusCode.NotFound)
                throw new PeerMissingException("socket.io-client is not embedded in Duplex.Cli: run `npm ci` in src/Duplex.Cli/chat-client (or build with npm and network) and rebuild");
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
            Assert.StartsWith("/*!\n * Socket.IO v4.8.", await script.Content.ReadAsStringAsync());
        }

        const string message = "hello from bob ✓";
        await using var browser = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("chat-browser.js"), serve.BaseUri.ToString(), "lobby", message);
        JsonElement report;
        try
        {
            report = await browser.ReadJsonAsync(BrowserTimeout);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"{ex.Message}\n--- duplex serve:\n{serve.Process.Transcript}", ex);
        }

        var alice = Page(report, "alice");
        var bob = Page(report, "bob");
        Assert.Equal("function", report.GetProperty("alice").GetProperty("client").GetString());
        Assert.Equal("connected", alice.Status);
        Assert.Equal("connected", bob.Status);
        Assert.NotEqual(alice.Id, bob.Id);

        // Alice was in the room first: she is told bob joined, by his socket id.
        Assert.Contains(("joined", $"user {bob.Id} joined the room"), alice.Log);
        Assert.DoesNotContain(bob.Log, e => e.Kind == "joined");
        // A message goes to everyone, its sender included.
        Assert.Contains(("message", $"bob: {message}"), alice.Log);
        Assert.Contains(("message", $"bob: {message}"), bob.Log);
        Assert.Contains(("message", "alice: alice is here"), alice.Log);
        Assert.DoesNotContain(alice.Log, e => e.Kind == "error");
        Assert.DoesNotContain(bob.Log, e => e.Kind == "error");
    }

    private static (string Status, string Id, (string Kind, string Text)[] Log) Page(JsonElement report, string name)
    {
        var page = report.GetProperty(name);
        // The page shows "(id <socket id>, <transport>)".
        var me = MeText().Match(page.GetProperty("me").GetString()!);
        Assert.True(me.Success, $"{name}'s page shows no socket id: {page}");
        var log = page.GetProperty("log").EnumerateArray()
            .Select(li => (li.GetProperty("kind").GetString()!, li.GetProperty("text").GetString()!))
            .ToArray();
        return (page.GetProperty("status").GetString()!, me.Groups[1].Value, log);
    }

    [GeneratedRegex(@"^\(id ([A-Za-z0-9_-]+), (polling|websocket)\)$")]
    private static partial Regex MeText();
}
