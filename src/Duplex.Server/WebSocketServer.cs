using System.Net;
using System.Security.Cryptography.X509Certificates;
using Duplex.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Duplex.Server;

/// <summary>
/// Settings of a standalone <see cref="WebSocketServer"/>: where it listens, TLS, the handshake timeout,
/// the policy of every path, a backplane, the transport and logging.
/// </summary>
public sealed class WebSocketServerOptions
{
    /// <summary>
    /// Address to listen on: "localhost" (IPv4 and IPv6 loopback; IPv4 only when <see cref="Port"/> is 0),
    /// "*" for every interface, or an IP address literal (other host names fail <see cref="WebSocketServer.StartAsync"/>).
    /// </summary>
    public string Host { get; set; } = "localhost";

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="WebSocketServer.Port"/>).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>
    /// How long a client may take to send its whole upgrade request (Kestrel's request-headers timeout);
    /// a slower one is dropped. Default 10 s.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A certificate turns the server into wss://.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Policy and limits applied to every path.</summary>
    public WebSocketEndpointOptions Endpoint { get; set; } = new();

    /// <summary>Carries group broadcasts to other server processes (e.g. Duplex.Server.Redis); null stands alone.</summary>
    public IGroupBackplane? Backplane { get; set; }

    /// <summary>
    /// Serve upgrades at the connection level, beneath ASP.NET Core's HTTP layer (less memory and CPU
    /// per connection; see <see cref="DuplexListenOptionsExtensions.UseDuplexFastPath"/>). Default true;
    /// paths with an <c>OnHandshake</c> hook always take the full HTTP path.
    /// </summary>
    public bool FastPath { get; set; } = true;

    /// <summary>
    /// Run on Duplex's socket transport (<see cref="Transport.DuplexSocketTransportFactory"/>: sockets read and
    /// written directly, no buffer held while idle) rather than Kestrel's. Default true.
    /// </summary>
    public bool DuplexSockets { get; set; } = true;

    /// <summary>Where logs go; null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// What <see cref="WebSocketServer.StopAsync"/> does to open connections: by default closes them all at
    /// once with 1001 Going Away; with a <see cref="DuplexShutdownOptions.DrainWindow"/>, closes them
    /// with 1012 spread over it. Read at <see cref="WebSocketServer.StartAsync"/>.
    /// </summary>
    public DuplexShutdownOptions Shutdown { get; set; } = new();
}

/// <summary>
/// A WebSocket server for code that writes no ASP.NET Core: <c>new WebSocketServer(new() { Port = 8080 })</c>,
/// a handler per path (or one for all), <c>StartAsync</c>. It is Kestrel underneath, configured for you.
/// </summary>
public sealed class WebSocketServer : IAsyncDisposable
{
    private readonly WebSocketServerOptions _options;
    private readonly Dictionary<string, Func<WebSocketConnection, Task>> _paths = new(StringComparer.Ordinal);
    private WebApplication? _app;

    /// <summary>
    /// A server with <paramref name="options"/> (null for the defaults: localhost:8080, no TLS). Nothing
    /// listens until <see cref="StartAsync"/>; the backplane is taken from the options here.
    /// </summary>
    public WebSocketServer(WebSocketServerOptions? options = null)
    {
        _options = options ?? new WebSocketServerOptions();
        Connections = new WebSocketConnectionRegistry(_options.Backplane);
    }

    /// <summary>Every open connection, and named groups for broadcast (across nodes with a backplane).</summary>
    public WebSocketConnectionRegistry Connections { get; }

    /// <summary>The port listened on, once started.</summary>
    public int Port { get; private set; }

    /// <summary>Runs <paramref name="handler"/> for each connection to <paramref name="path"/>.</summary>
    public WebSocketServer Map(string path, Func<WebSocketConnection, Task> handler)
    {
        if (_app is not null) throw new InvalidOperationException("Map paths before StartAsync.");
        _paths[path] = handler;
        return this;
    }

    /// <summary>Runs <paramref name="handler"/> for connections to any path not mapped otherwise.</summary>
    public WebSocketServer OnConnection(Func<WebSocketConnection, Task> handler) => Map("/{**path}", handler);

    /// <summary>
    /// Starts listening with the paths mapped so far; completes once listening, with <see cref="Port"/>
    /// set. Throws <see cref="InvalidOperationException"/> if already started, and Kestrel's exception
    /// when it cannot listen (e.g. the port is in use).
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null) throw new InvalidOperationException("The server is already started.");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (_options.LoggerFactory is { } loggerFactory) builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(Connections);
        builder.Services.AddHostedService<BackplaneSubscription>();
        // The host's stop closes (or drains) the connections before Kestrel stops, as with AddDuplex.
        builder.Services.AddSingleton<IHostedService>(sp => new DuplexShutdown(Connections, _options.Shutdown, sp.GetService<ILoggerFactory>()));
        if (_options.DuplexSockets) Transport.DuplexSocketTransportExtensions.UseDuplexSockets(builder.WebHost);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.RequestHeadersTimeout = _options.HandshakeTimeout;
            void Configure(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen)
            {
                if (_options.Certificate is { } cert) listen.UseHttps(cert);
                // Upgrades to the mapped paths skip the HTTP layer (this server has no middleware to skip).
                if (_options.FastPath) listen.UseDuplexFastPath();
            }
            switch (_options.Host)
            {
                case "localhost" when _options.Port != 0:
                    kestrel.ListenLocalhost(_options.Port, Configure);
                    break;
                case "localhost":
                    kestrel.Listen(IPAddress.Loopback, 0, Configure);
                    break;
                case "*" or "0.0.0.0" or "::":
                    kestrel.ListenAnyIP(_options.Port, Configure);
                    break;
                default:
                    kestrel.Listen(IPAddress.Parse(_options.Host), _options.Port, Configure);
                    break;
            }
        });
        var app = builder.Build();
        try
        {
            foreach (var (path, handler) in _paths)
            {
                app.MapWebSocket(path, handler, endpoint =>
                {
                    endpoint.Connection = _options.Endpoint.Connection;
                    endpoint.SelectSubprotocol = _options.Endpoint.SelectSubprotocol;
                    endpoint.ValidateOrigin = _options.Endpoint.ValidateOrigin;
                    endpoint.OnHandshake = _options.Endpoint.OnHandshake;
                    endpoint.Limits = _options.Endpoint.Limits;
                });
            }
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            Port = new Uri(address.Replace("*", "localhost").Replace("[::]", "localhost")).Port;
        }
        catch
        {
            // A start that failed (port in use, a bad Host) may have bound some addresses and started some
            // services already: release them, or the process keeps a half-started server nobody can stop.
            await DisposeFailedAsync(app).ConfigureAwait(false);
            throw;
        }
        _app = app;
    }

    private static async Task DisposeFailedAsync(WebApplication app)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Stopping what never fully started can fail too; the start's exception is the one to report.
        }
        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Closes every connection with 1001 Going Away (or drains them with 1012 over
    /// <see cref="WebSocketServerOptions.Shutdown"/>'s window), refusing new upgrades meanwhile, then stops
    /// listening. <paramref name="cancellationToken"/> cuts a drain short: the connections left are closed at once.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_app is null) return;
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _app = null;
    }

    /// <summary>Stops the server as <see cref="StopAsync"/> does.</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
