using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using System.Reflection;
using Duplex.Protocol;
using Duplex.Server;
using Duplex.Server.Redis;
using Duplex.Server.Transport;

namespace Duplex.Cli;

/// <summary><c>duplex serve</c>: echo, broadcast and the demo page, on Kestrel.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        Arguments parsed;
        try
        {
            parsed = new Arguments(args, new HashSet<string> { "compression", "metrics", "verbose", "no-fast-path" });
            if (parsed.Unknown(new HashSet<string> { "host", "port", "redis", "io", "transport", "drain" }).FirstOrDefault() is { } unknown)
                return Usage.Print(1, $"unknown option --{unknown}");
            if (parsed.Get("io") is { } io && io is not ("loop" or "pool"))
                return Usage.Print(1, "--io is loop or pool");
            if (parsed.Get("transport") is { } transport && transport is not ("duplex" or "kestrel"))
                return Usage.Print(1, "--transport is duplex or kestrel");
        }
        catch (ArgumentException ex)
        {
            return Usage.Print(1, ex.Message);
        }
        var host = parsed.Get("host") ?? "localhost";
        int port;
        int drain;
        try
        {
            port = parsed.GetInt("port", 8080);
            drain = parsed.GetInt("drain", 0);
            if (drain is < 0 or > 3600) return Usage.Print(1, "--drain is between 0 and 3600 seconds");
        }
        catch (ArgumentException ex)
        {
            return Usage.Print(1, ex.Message);
        }

        bool compression = parsed.Flag("compression");
        void Configure(WebSocketEndpointOptions o) => o.Connection.Compression.Enabled = compression;

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        builder.Logging.AddFilter("StackExchange", LogLevel.Warning);
        // One line per connection opened and closed only with --verbose: at load they cost more than the echo.
        builder.Logging.AddFilter("duplex", parsed.Flag("verbose") ? LogLevel.Debug : LogLevel.Information);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // A client gets 10 s to send its upgrade request (slowloris guard).
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            // /echo and /broadcast upgrades are served beneath the HTTP layer (the demo page is not).
            // --no-fast-path: every upgrade through ASP.NET Core's pipeline (the full path), as for an
            // endpoint whose handler takes the HttpContext.
            bool fastPath = !parsed.Flag("no-fast-path");
            Action<ListenOptions> fast = listen => { if (fastPath) listen.UseDuplexFastPath(); };
            if (host == "localhost") kestrel.ListenLocalhost(port, fast);
            else if (host is "*" or "0.0.0.0" or "::") kestrel.ListenAnyIP(port, fast);
            else kestrel.Listen(IPAddress.Parse(host), port, fast);
        });
        bool ownTransport = (parsed.Get("transport") ?? "duplex") == "duplex";
        if ((parsed.Get("io") ?? "loop") == "loop") UseEventLoopIO(builder, ownTransport);
        // Sockets read and written directly, without Kestrel's pipes (see DuplexSocketTransportFactory).
        if (ownTransport) builder.WebHost.UseDuplexSockets();
        // Ctrl+C/SIGTERM: 1001 for every connection, or with --drain 1012 spread over that window (the
        // host then waits for it: its shutdown timeout is the window plus room for the close handshakes).
        builder.Services.AddDuplex(o => o.DrainWindow = TimeSpan.FromSeconds(drain));
        if (drain > 0) builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(drain + 10));
        // --redis host:port: /broadcast spans every server on that Redis.
        if (parsed.Get("redis") is { } redis)
            builder.Services.AddDuplexRedisBackplane(o => o.Configuration = redis);
        var app = builder.Build();
        var registry = app.Services.GetRequiredService<WebSocketConnectionRegistry>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("duplex");

        using var metrics = parsed.Flag("metrics") ? new MetricsReporter(log, TimeSpan.FromSeconds(5)) : null;

        var page = ReadPage();
        app.MapGet("/", context => Results.Content(page, "text/html; charset=utf-8").ExecuteAsync(context));
        SocketIOChat.Map(app, log, parsed.Get("redis"));

        app.MapWebSocket("/echo", async connection =>
        {
            using var _ = Track(log, connection, "/echo");
            await foreach (var message in connection.ReadMessagesAsync())
                await connection.SendAsync(message);
        }, Configure);

        var everyone = registry["broadcast"];
        app.MapWebSocket("/broadcast", async connection =>
        {
            using var _ = Track(log, connection, "/broadcast");
            everyone.Add(connection);
            await foreach (var message in connection.ReadMessagesAsync())
                await everyone.BroadcastAsync(message.Data, message.Type);
        }, Configure);

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            // The bound addresses, not the requested ones: --port 0 picks a free port.
            var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
            log.LogInformation("duplex serve: listening on {Addresses} (/echo, /broadcast, /, Socket.IO at /socket.io/ with the chat page at /chat)", string.Join(", ", addresses ?? []));
        });
        await app.RunAsync();
        return 0;
    }

    /// <summary>
    /// <c>--io loop</c> (the default): each socket's work runs where its readiness is reported — the
    /// runtime's socket event threads, one per core — and every connection's handling runs inline
    /// there, as on Node's event loop: no hand-off to the thread pool per read and none to Kestrel's
    /// output queue per write. The handlers here never block, which this needs. <c>--io pool</c> is
    /// ASP.NET Core's default (a thread-pool hop per read, an I/O-queue hop per write).
    /// </summary>
    private static void UseEventLoopIO(WebApplicationBuilder builder, bool ownTransport)
    {
        // Read once, when the first socket is made: this is before it. An explicit setting wins.
        const string inline = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(inline) is null) Environment.SetEnvironmentVariable(inline, "1");
        // Duplex's transport runs inline by itself; Kestrel's needs to be told.
        if (!ownTransport) builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
    }

    private static IDisposable? Track(ILogger log, WebSocketConnection connection, string path)
    {
        if (!log.IsEnabled(LogLevel.Debug)) return null;
        log.LogDebug("connection {Id} opened on {Path} from {Remote}", connection.Id, path, connection.RemoteEndPoint);
        return new CloseLogger(log, connection);
    }

    private sealed class CloseLogger(ILogger log, WebSocketConnection connection) : IDisposable
    {
        public void Dispose() => _ = connection.Completion.ContinueWith(_ =>
            log.LogDebug("connection {Id} closed: {Code} {Reason}", connection.Id,
                (int?)connection.CloseStatus ?? 1006, connection.CloseStatusDescription ?? ""), TaskScheduler.Default);
    }

    private static string ReadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("index.html")
            ?? throw new InvalidOperationException("the demo page is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
