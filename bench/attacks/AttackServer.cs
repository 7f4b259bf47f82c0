using System.Net;
using Duplex.Server;
using Duplex.Server.Transport;
using Duplex.SocketIO;

namespace Duplex.Attacks;

/// <summary>
/// What `duplex serve` runs (Duplex's transport, the fast path, a 10 s request-headers timeout, workstation
/// GC), with an echo on each upgrade path: /fast (beneath the HTTP layer) and /full (through ASP.NET Core:
/// its handler takes the HttpContext), and Socket.IO at /socket.io with an acknowledged "echo".
/// </summary>
internal static class AttackServer
{
    public static async Task<int> RunAsync(string[] args)
    {
        var keepAlive = Option(args, "--keepalive") is { } k ? TimeSpan.FromSeconds(double.Parse(k)) : (TimeSpan?)null;
        var connectTimeout = Option(args, "--connect-timeout") is { } c ? TimeSpan.FromSeconds(double.Parse(c)) : (TimeSpan?)null;
        bool compression = args.Contains("--compression");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseDuplexSockets();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseDuplexFastPath());
        });
        builder.Services.AddDuplex();
        builder.Services.AddSocketIO(o =>
        {
            if (connectTimeout is { } t) o.ConnectTimeout = t;
        });
        var app = builder.Build();
        void Configure(WebSocketEndpointOptions o)
        {
            o.Connection.Compression.Enabled = compression;
            if (keepAlive is { } interval)
            {
                o.Connection.KeepAliveInterval = interval;
                o.Connection.KeepAliveTimeout = interval;
            }
        }
        app.MapWebSocket("/fast", Echo, Configure);
        app.MapWebSocket("/full", (connection, _) => Echo(connection), Configure);
        app.MapSocketIO("/socket.io", io => io.OnConnection(socket => socket.On("echo", e => e.AckAsync(e.Args[0]))));
        await app.StartAsync();
        var address = app.Urls.First();
        Console.WriteLine($"listening {new Uri(address).Port} pid {Environment.ProcessId}");
        // Ends on SIGTERM / Ctrl+C (the host's console lifetime), or after 15 minutes whatever happens to run.sh.
        _ = Task.Delay(TimeSpan.FromMinutes(15)).ContinueWith(_ => app.Lifetime.StopApplication(), TaskScheduler.Default);
        await app.WaitForShutdownAsync();
        return 0;
    }

    private static async Task Echo(WebSocketConnection connection)
    {
        await foreach (var m in connection.ReadMessagesAsync()) await connection.SendAsync(m);
    }

    public static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
