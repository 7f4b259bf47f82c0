using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests.Interop;

/// <summary>tests/peers/connect-proxy.js: an HTTP CONNECT proxy (Node's http server) on loopback.</summary>
public sealed class ConnectProxy : PeerServer
{
    protected override (string FileName, string[] Arguments) Command => (InteropPeers.Node, [InteropPeers.Script("connect-proxy.js")]);
}

/// <summary>The same proxy demanding Basic credentials alice:s3cret.</summary>
public sealed class AuthConnectProxy : PeerServer
{
    protected override (string FileName, string[] Arguments) Command => (InteropPeers.Node, [InteropPeers.Script("connect-proxy.js"), "--auth", "alice:s3cret"]);
}

/// <summary>tests/peers/socks5-proxy.js: a SOCKS5 proxy on loopback.</summary>
public sealed class Socks5Proxy : PeerServer
{
    protected override (string FileName, string[] Arguments) Command => (InteropPeers.Node, [InteropPeers.Script("socks5-proxy.js")]);
}

/// <summary>The same SOCKS5 proxy demanding the user name and password bob:hunter2 (RFC 1929).</summary>
public sealed class AuthSocks5Proxy : PeerServer
{
    protected override (string FileName, string[] Arguments) Command => (InteropPeers.Node, [InteropPeers.Script("socks5-proxy.js"), "--auth", "bob:hunter2"]);
}

/// <summary>
/// The client's ways to reach a server: proxies (real HTTP CONNECT and SOCKS5 proxies in Node), the
/// environment's proxy (through the `duplex connect` process), redirects, cookies, Unix domain
/// sockets, a connect callback and mutual TLS.
/// </summary>
public sealed class ClientNetworkingTests(ConnectProxy connectProxy, AuthConnectProxy authConnectProxy, Socks5Proxy socks5, AuthSocks5Proxy authSocks5)
    : IClassFixture<ConnectProxy>, IClassFixture<AuthConnectProxy>, IClassFixture<Socks5Proxy>, IClassFixture<AuthSocks5Proxy>
{
    private static async Task AssertEchoAsync(WebSocketConnection client, string text)
    {
        await client.SendTextAsync(text);
        Assert.Equal(text, await NextTextAsync(client));
        await client.CloseAsync();
    }

    /// <summary>The next message's text, waited for at most 10 s.</summary>
    private static async Task<string> NextTextAsync(WebSocketConnection client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var message in client.ReadMessagesAsync(cts.Token)) return message.Text;
        throw new InvalidOperationException("the connection ended before a message came");
    }

    private static Task<System.Text.Json.JsonElement> ProxyEventAsync(PeerServer proxy, string target) =>
        proxy.WaitForEventAsync(e => e.TryGetProperty("event", out var ev) && ev.GetString() == "connect" && e.GetProperty("target").GetString() == target);

    [Fact]
    public async Task An_http_connect_proxy_tunnels_the_connection()
    {
        await using var server = await TestServer.StartEchoAsync();
        var target = server.WebSocketUri("/echo");
        var options = new WebSocketClientOptions { Proxy = new WebProxy($"http://127.0.0.1:{connectProxy.Port}") };
        await using var client = await WebSocketClient.ConnectAsync(target, options);
        var seen = await ProxyEventAsync(connectProxy, target.Authority);
        Assert.False(seen.GetProperty("hadCredentials").GetBoolean());
        await AssertEchoAsync(client, "through CONNECT");
    }

    [Fact]
    public async Task An_http_proxy_that_needs_credentials_gets_basic_auth_from_the_proxy_uri_or_its_credentials()
    {
        await using var server = await TestServer.StartEchoAsync();
        var target = server.WebSocketUri("/echo");
        // A WebProxy does not read user info from its address; the client does.
        var fromUri = new WebSocketClientOptions { Proxy = new FixedProxy(new Uri($"http://alice:s3cret@127.0.0.1:{authConnectProxy.Port}")) };
        await using (var client = await WebSocketClient.ConnectAsync(target, fromUri)) await AssertEchoAsync(client, "user info");
        var fromCredentials = new WebSocketClientOptions
        {
            Proxy = new WebProxy($"http://127.0.0.1:{authConnectProxy.Port}") { Credentials = new NetworkCredential("alice", "s3cret") },
        };
        await using (var client = await WebSocketClient.ConnectAsync(target, fromCredentials)) await AssertEchoAsync(client, "credentials");
    }

    [Fact]
    public async Task An_http_proxy_refusing_the_tunnel_fails_the_connect_with_its_status()
    {
        await using var server = await TestServer.StartEchoAsync();
        var none = new WebSocketClientOptions { Proxy = new WebProxy($"http://127.0.0.1:{authConnectProxy.Port}") };
        var error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), none));
        Assert.Equal(HandshakeCheck.Proxy, error.Check);
        Assert.Equal(407, error.StatusCode);
        Assert.Contains("no credentials", error.Message);

        var wrong = new WebSocketClientOptions { Proxy = new WebProxy($"http://127.0.0.1:{authConnectProxy.Port}") { Credentials = new NetworkCredential("alice", "nope") } };
        error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), wrong));
        Assert.Equal(407, error.StatusCode);
        Assert.Contains("refused", error.Message);
    }

    [Fact]
    public async Task Wss_goes_through_the_connect_tunnel_with_tls_to_the_server()
    {
        using var certificate = Certificates.Server();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }), certificate);
        var target = server.WebSocketUri("/echo");
        Assert.Equal("wss", target.Scheme);
        var options = new WebSocketClientOptions
        {
            Proxy = new WebProxy($"http://127.0.0.1:{connectProxy.Port}"),
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == certificate.GetCertHashString(),
        };
        await using var client = await WebSocketClient.ConnectAsync(target, options);
        await ProxyEventAsync(connectProxy, target.Authority);
        await AssertEchoAsync(client, "tls in the tunnel");
    }

    [Fact]
    public async Task A_socks5_proxy_tunnels_with_the_address_resolved_here_or_by_the_proxy()
    {
        await using var server = await TestServer.StartEchoAsync();
        int port = server.BaseUri.Port;
        var byName = new Uri($"ws://localhost:{port}/echo");

        // socks5://: the client resolves localhost and sends an address (type 1).
        var local = new WebSocketClientOptions { Proxy = new WebProxy($"socks5://127.0.0.1:{socks5.Port}") };
        await using (var client = await WebSocketClient.ConnectAsync(byName, local))
        {
            var seen = await ProxyEventAsync(socks5, $"127.0.0.1:{port}");
            Assert.Equal(1, seen.GetProperty("type").GetInt32());
            await AssertEchoAsync(client, "socks5");
        }
        // socks5h://: the name goes to the proxy (type 3).
        var remote = new WebSocketClientOptions { Proxy = new WebProxy($"socks5h://127.0.0.1:{socks5.Port}") };
        await using (var client = await WebSocketClient.ConnectAsync(byName, remote))
        {
            var seen = await ProxyEventAsync(socks5, $"localhost:{port}");
            Assert.Equal(3, seen.GetProperty("type").GetInt32());
            await AssertEchoAsync(client, "socks5h");
        }
    }

    [Fact]
    public async Task A_socks5_proxy_with_a_password_takes_the_right_one_and_refuses_others()
    {
        await using var server = await TestServer.StartEchoAsync();
        var target = server.WebSocketUri("/echo");
        var right = new WebSocketClientOptions { Proxy = new WebProxy($"socks5://127.0.0.1:{authSocks5.Port}") { Credentials = new NetworkCredential("bob", "hunter2") } };
        await using (var client = await WebSocketClient.ConnectAsync(target, right)) await AssertEchoAsync(client, "rfc 1929");

        var wrong = new WebSocketClientOptions { Proxy = new WebProxy($"socks5://127.0.0.1:{authSocks5.Port}") { Credentials = new NetworkCredential("bob", "guess") } };
        var error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(target, wrong));
        Assert.Equal(HandshakeCheck.Proxy, error.Check);
        Assert.Contains("refused the user name and password", error.Message);

        var none = new WebSocketClientOptions { Proxy = new WebProxy($"socks5://127.0.0.1:{authSocks5.Port}") };
        error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(target, none));
        Assert.Contains("accepts none of the offered methods", error.Message);
    }

    [Fact]
    public async Task UseProxy_false_connects_directly_and_a_bypassed_host_skips_the_proxy()
    {
        await using var server = await TestServer.StartEchoAsync();
        var dead = new WebProxy("http://127.0.0.1:1"); // nothing listens there: using it would fail
        await using (var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), new WebSocketClientOptions { Proxy = dead, UseProxy = false }))
            await AssertEchoAsync(client, "direct");
        var bypassing = new WebProxy("http://127.0.0.1:1", BypassOnLocal: false, BypassList: [@"127\.0\.0\.1"]);
        await using (var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), new WebSocketClientOptions { Proxy = bypassing }))
            await AssertEchoAsync(client, "bypassed");
    }

    [Fact]
    public async Task Duplex_connect_takes_the_proxy_from_the_environment_and_honours_no_proxy()
    {
        await using var server = await TestServer.StartEchoAsync();
        var target = server.WebSocketUri("/echo");
        var env = new Dictionary<string, string> { ["HTTP_PROXY"] = $"http://127.0.0.1:{connectProxy.Port}" };
        Assert.Contains("< via the environment", await RunConnectAsync(target, "via the environment", env));
        await ProxyEventAsync(connectProxy, target.Authority);

        // NO_PROXY names the host: direct, so a dead proxy does not matter.
        var bypass = new Dictionary<string, string> { ["HTTP_PROXY"] = "http://127.0.0.1:1", ["NO_PROXY"] = "127.0.0.1" };
        Assert.Contains("< around it", await RunConnectAsync(target, "around it", bypass));
    }

    /// <summary>`duplex connect URL --quiet` with one line on stdin; returns what it printed once it exited.</summary>
    private static async Task<string> RunConnectAsync(Uri target, string line, IDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(InteropPeers.Dotnet)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { InteropPeers.DuplexCliDll, "connect", target.ToString(), "--quiet" }) info.ArgumentList.Add(a);
        foreach (var name in new[] { "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy" })
            info.Environment.Remove(name);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync();
        var printed = new StringBuilder();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.StandardInput.WriteLineAsync(line);
            // The echo comes back while stdin is open; then end stdin (Ctrl+D), which closes with 1000.
            while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } output)
            {
                printed.AppendLine(output);
                if (output.Contains(line)) break;
            }
            process.StandardInput.Close();
            printed.Append(await process.StandardOutput.ReadToEndAsync(cts.Token));
            await process.WaitForExitAsync(cts.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        Assert.True(process.ExitCode == 0, $"duplex connect exited {process.ExitCode}: {printed}{await errors}");
        return printed.ToString();
    }

    [Fact]
    public async Task Redirects_are_followed_up_to_the_limit_and_refused_past_it()
    {
        await using var server = await TestServer.StartAsync(app =>
        {
            app.MapGet("/old", () => Results.Redirect("/echo", permanent: false, preserveMethod: true));
            app.MapGet("/loop", () => Results.Redirect("/loop", permanent: false, preserveMethod: true));
            app.MapWebSocket("/echo", async c =>
            {
                await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
            });
        });
        await using (var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/old"), new WebSocketClientOptions { MaxRedirects = 1 }))
            await AssertEchoAsync(client, "redirected");

        // The default follows none: the 307 is the handshake's failure, with its Location.
        var error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/old")));
        Assert.Equal(HandshakeCheck.Status, error.Check);
        Assert.Equal(307, error.StatusCode);
        Assert.Equal("/echo", error.Headers["Location"]);

        error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/loop"), new WebSocketClientOptions { MaxRedirects = 3 }));
        Assert.Equal(HandshakeCheck.Redirect, error.Check);
        Assert.Contains("more than 3 redirects", error.Message);
    }

    [Fact]
    public async Task A_redirect_to_another_host_drops_authorization_and_one_that_drops_tls_is_refused()
    {
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(app =>
        {
            app.Use((context, next) =>
            {
                context.Items["auth"] = context.Request.Headers.Authorization.FirstOrDefault();
                return next(context);
            });
            // 127.0.0.1 → localhost: the same server under another host name.
            app.MapGet("/elsewhere", (HttpContext context) => Results.Redirect($"http://localhost:{context.Connection.LocalPort}/whoami", false, true));
            app.MapGet("/same", () => Results.Redirect("/whoami", false, true));
            app.MapWebSocket("/whoami", async c =>
            {
                await c.SendTextAsync(c.Items.TryGetValue("auth", out var a) ? (string?)a ?? "none" : "none");
                await foreach (var _ in c.ReadMessagesAsync()) { }
            });
        });
        var options = new WebSocketClientOptions { MaxRedirects = 2 }.AddHeader("Authorization", "Bearer secret");

        await using (var same = await WebSocketClient.ConnectAsync(server.WebSocketUri("/same"), options))
        {
            Assert.Equal("Bearer secret", await NextTextAsync(same));
            await same.CloseAsync();
        }
        await using (var other = await WebSocketClient.ConnectAsync(server.WebSocketUri("/elsewhere"), options))
        {
            Assert.Equal("none", await NextTextAsync(other));
            await other.CloseAsync();
        }

        using var certificate = Certificates.Server();
        await using var secure = await TestServer.StartAsync(app => app.MapGet("/down", () => Results.Redirect($"http://127.0.0.1:{server.BaseUri.Port}/whoami", false, true)), certificate);
        var tls = new WebSocketClientOptions { MaxRedirects = 2, RemoteCertificateValidationCallback = (_, _, _, _) => true };
        var error = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(secure.WebSocketUri("/down"), tls));
        Assert.Equal(HandshakeCheck.Redirect, error.Check);
        Assert.Contains("would drop TLS", error.Message);
    }

    [Fact]
    public async Task Cookies_from_a_redirect_and_from_the_container_go_with_the_handshake()
    {
        await using var server = await TestServer.StartAsync(app =>
        {
            app.Use((context, next) =>
            {
                context.Items["cookies"] = context.Request.Headers.Cookie.ToString();
                return next(context);
            });
            app.MapGet("/login", (HttpContext context) =>
            {
                context.Response.Headers.Append("Set-Cookie", "session=abc123; Path=/; HttpOnly");
                context.Response.Headers.Append("Set-Cookie", "theme=dark; Path=/; Expires=Wed, 09 Jun 2100 10:18:14 GMT");
                return Results.Redirect("/cookies", false, true);
            });
            app.MapWebSocket("/cookies", async c =>
            {
                await c.SendTextAsync(c.Items["cookies"] as string ?? "");
                await foreach (var _ in c.ReadMessagesAsync()) { }
            });
        });
        var jar = new CookieContainer();
        jar.Add(new Cookie("preset", "1", "/", "127.0.0.1"));
        var options = new WebSocketClientOptions { MaxRedirects = 1, Cookies = jar };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/login"), options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var sent = (await NextTextAsync(client)).Split("; ").Order().ToArray();
        Assert.Equal(["preset=1", "session=abc123", "theme=dark"], sent);
        Assert.Equal("abc123", jar.GetCookies(new Uri($"http://127.0.0.1:{server.BaseUri.Port}/"))["session"]?.Value);
        await client.CloseAsync();
    }

    [Fact]
    public async Task A_server_on_a_unix_socket_is_reached_by_ws_unix_uris_and_by_the_option()
    {
        var path = Path.Combine(Path.GetTempPath(), $"duplex-{Guid.NewGuid():N}.sock");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDuplex();
        if (TestServer.UseDuplexSockets) builder.WebHost.UseDuplexSockets();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(path));
        await using var app = builder.Build();
        app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        });
        await app.StartAsync();
        try
        {
            await using (var client = await WebSocketClient.ConnectAsync(new Uri($"ws+unix://{path}:/echo")))
                await AssertEchoAsync(client, "over a unix socket");
            var options = new WebSocketClientOptions { UnixSocketPath = path };
            await using (var client = await WebSocketClient.ConnectAsync(new Uri("ws://app.internal/echo"), options))
                await AssertEchoAsync(client, "by the option");
        }
        finally
        {
            await app.StopAsync();
            File.Delete(path);
        }
    }

    [Fact]
    public async Task The_connect_callback_opens_the_stream_for_a_name_only_it_knows()
    {
        await using var server = await TestServer.StartEchoAsync();
        DnsEndPoint? asked = null;
        var options = new WebSocketClientOptions
        {
            // Custom DNS: echo.test exists only here.
            ConnectCallback = async (context, token) =>
            {
                asked = context.EndPoint;
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.EndPoint.Port), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        await using var client = await WebSocketClient.ConnectAsync(new Uri($"ws://echo.test:{server.BaseUri.Port}/echo"), options);
        Assert.Equal("echo.test", asked!.Host);
        Assert.Equal(server.BaseUri.Port, asked.Port);
        Assert.IsType<IPEndPoint>(client.RemoteEndPoint); // the callback's socket lends its endpoint
        await AssertEchoAsync(client, "custom dns");
    }

    [Fact]
    public async Task Mutual_tls_sends_the_client_certificate_the_server_requires()
    {
        using var serverCertificate = Certificates.Server();
        using var clientCertificate = Certificates.Client("duplex-test-client");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDuplex();
        if (TestServer.UseDuplexSockets) builder.WebHost.UseDuplexSockets();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = serverCertificate,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = (_, _, _) => true,
        })));
        await using var app = builder.Build();
        app.Use((context, next) =>
        {
            context.Items["subject"] = context.Connection.ClientCertificate?.Subject;
            return next(context);
        });
        app.MapWebSocket("/who", async c =>
        {
            await c.SendTextAsync(c.Items["subject"] as string ?? "anonymous");
            await foreach (var _ in c.ReadMessagesAsync()) { }
        });
        await app.StartAsync();
        try
        {
            var port = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First()).Port;
            var uri = new Uri($"wss://127.0.0.1:{port}/who");
            var options = new WebSocketClientOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == serverCertificate.GetCertHashString(),
                ClientCertificates = [clientCertificate],
            };
            await using (var client = await WebSocketClient.ConnectAsync(uri, options))
            {
                Assert.Equal("CN=duplex-test-client", await NextTextAsync(client));
                await client.CloseAsync();
            }
            // Without a certificate the server ends the TLS handshake.
            var anonymous = new WebSocketClientOptions { RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback };
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var client = await WebSocketClient.ConnectAsync(uri, anonymous);
                await NextTextAsync(client);
            });
        }
        finally
        {
            await app.StopAsync();
        }
    }

    /// <summary>A proxy that is always this URI (user info included), for the proxy-URI credentials case.</summary>
    private sealed class FixedProxy(Uri proxy) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }
        public Uri GetProxy(Uri destination) => proxy;
        public bool IsBypassed(Uri host) => false;
    }
}

/// <summary>Self-signed certificates made for one test.</summary>
internal static class Certificates
{
    public static X509Certificate2 Server() => Create("localhost", "1.3.6.1.5.5.7.3.1", server: true);

    public static X509Certificate2 Client(string name) => Create(name, "1.3.6.1.5.5.7.3.2", server: false);

    private static X509Certificate2 Create(string name, string usage, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }
}
