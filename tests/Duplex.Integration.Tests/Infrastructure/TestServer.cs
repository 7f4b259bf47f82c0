using System.Net;
using System.Security.Cryptography.X509Certificates;
using Duplex.Server;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests.Infrastructure;

/// <summary>An in-process Kestrel server on a free loopback port, with endpoints the test maps.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    /// <summary>http://127.0.0.1:PORT/ (or https://).</summary>
    public Uri BaseUri { get; }

    public IServiceProvider Services => _app.Services;

    public WebSocketConnectionRegistry Registry => _app.Services.GetRequiredService<WebSocketConnectionRegistry>();

    /// <summary>ws://127.0.0.1:PORT/path (wss:// when TLS).</summary>
    public Uri WebSocketUri(string path) =>
        new($"{(BaseUri.Scheme == "https" ? "wss" : "ws")}://{BaseUri.Authority}{path}");

    public static async Task<TestServer> StartAsync(Action<WebApplication> map, X509Certificate2? certificate = null, IPAddress? address = null,
        Action<IServiceCollection>? services = null, int port = 0, bool http2 = false, bool fastPath = false,
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions>? listen = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddDuplex();
        // DUPLEX_TEST_TRANSPORT=duplex runs every test on Duplex's socket transport instead of Kestrel's.
        if (UseDuplexSockets) builder.WebHost.UseDuplexSockets();
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(k => k.Listen(address ?? IPAddress.Loopback, port, options =>
        {
            if (http2) options.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2;
            if (certificate is not null) options.UseHttps(certificate);
            listen?.Invoke(options); // connection middleware of the test, ahead of the fast path
            if (fastPath) options.UseDuplexFastPath();
        }));
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address0 = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServer(app, new Uri(address0.Replace("[::]", "localhost")));
    }

    public static bool UseDuplexSockets { get; } = Environment.GetEnvironmentVariable("DUPLEX_TEST_TRANSPORT") == "duplex";

    /// <summary>An echo endpoint at /echo, as most tests want.</summary>
    public static Task<TestServer> StartEchoAsync(Action<WebSocketEndpointOptions>? configure = null) =>
        StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, configure));

    public async ValueTask DisposeAsync()
    {
        // As a real server does on shutdown: close every WebSocket (1001) so Kestrel need not wait for them.
        await Registry.CloseAllAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
