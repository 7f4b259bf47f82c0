using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Tests.Infrastructure;

/// <summary>Kestrel on a free 127.0.0.1 port serving Socket.IO at /socket.io with the test's setup.</summary>
public sealed class SocketIOTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SocketIOTestServer(WebApplication app, Uri baseUri, SocketIOServer io)
    {
        _app = app;
        BaseUri = baseUri;
        IO = io;
    }

    /// <summary>http://127.0.0.1:PORT (no trailing slash).</summary>
    public Uri BaseUri { get; }

    public string Url => BaseUri.ToString().TrimEnd('/');

    public SocketIOServer IO { get; }

    /// <param name="fastPath">Serve with <c>UseDuplexFastPath()</c> on the listener, as <c>duplex serve</c> does.</param>
    public static async Task<SocketIOTestServer> StartAsync(Action<SocketIOServer> configure, Action<SocketIOOptions>? options = null, bool fastPath = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSocketIO(options);
        // DUPLEX_TEST_TRANSPORT=duplex runs every test on Duplex's socket transport instead of Kestrel's.
        if (Environment.GetEnvironmentVariable("DUPLEX_TEST_TRANSPORT") == "duplex")
            Duplex.Server.Transport.DuplexSocketTransportExtensions.UseDuplexSockets(builder.WebHost);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (fastPath) Duplex.Server.DuplexListenOptionsExtensions.UseDuplexFastPath(listen);
        }));
        var app = builder.Build();
        app.MapSocketIO("/socket.io", configure);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SocketIOTestServer(app, new Uri(address), app.Services.GetRequiredService<SocketIOServer>());
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
