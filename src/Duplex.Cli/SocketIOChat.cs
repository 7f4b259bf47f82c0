using System.Reflection;
using System.Text.Json;
using Duplex.SocketIO;
using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Redis;
using StackExchange.Redis;

namespace Duplex.Cli;

/// <summary>
/// The seed's chat on Socket.IO, for <c>duplex serve</c>: every <c>message</c> goes to everyone, and
/// <c>join-room</c> joins the room and tells the others in it <c>user-joined</c>. The page at /chat
/// uses the official socket.io-client browser build, served at /socket.io/socket.io.js as the Node
/// server does; the build embeds it from npm (see Duplex.Cli.csproj), and without it the page says
/// how to add it.
/// </summary>
internal static class SocketIOChat
{
    /// <param name="redis">With <c>serve --redis</c>: the chat spans every server (Duplex or Node with
    /// @socket.io/redis-adapter) on that Redis.</param>
    public static void Map(WebApplication app, ILogger log, string? redis = null)
    {
        // The seed's server options: cors: { origin: '*' }.
        var loggerFactory = app.Services.GetService<ILoggerFactory>();
        var io = new SocketIOServer(new SocketIOOptions { Cors = new EngineIOCorsOptions() }, loggerFactory);
        if (redis is not null)
        {
            // Its own connection (servers are counted by their subscriptions); up or not, serve starts.
            var config = ConfigurationOptions.Parse(redis);
            config.AbortOnConnectFail = false;
            config.BacklogPolicy = BacklogPolicy.FailFast;
            var multiplexer = ConnectionMultiplexer.Connect(config);
            io.UseRedisAdapter(multiplexer, loggerFactory: loggerFactory);
            app.Lifetime.ApplicationStopped.Register(() =>
            {
                io.CloseAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
                multiplexer.Dispose();
            });
        }
        io.OnConnection(socket =>
        {
            socket.On("message", e => io.EmitAsync("message", e.Args.Count > 0 ? e.Args[0] : (JsonElement?)null));
            socket.On<string>("join-room", room =>
            {
                if (string.IsNullOrEmpty(room)) return;
                socket.Join(room);
                _ = socket.To(room).EmitAsync("user-joined", socket.Id);
            });
        });
        app.MapSocketIO(io, "/socket.io");

        var page = ReadResource("chat.html")!;
        app.MapGet("/chat", context => Results.Content(page, "text/html; charset=utf-8").ExecuteAsync(context));

        var client = ReadResource("socket.io.min.js");
        if (client is null)
            log.LogWarning("socket.io-client is not in this build: /chat cannot connect. Run `npm ci` in src/Duplex.Cli/chat-client (needs npm and network) and rebuild.");
        // RequestDelegates, not minimal-API delegates: those bind by reflection, which Native AOT lacks.
        Task ClientScript(HttpContext context) => (client is null
            ? Results.Text("// socket.io-client is not in this build of duplex: run `npm ci` in src/Duplex.Cli/chat-client and rebuild.\n",
                "text/javascript; charset=utf-8", statusCode: StatusCodes.Status404NotFound)
            : Results.Text(client, "text/javascript; charset=utf-8")).ExecuteAsync(context);
        app.MapGet("/socket.io/socket.io.js", ClientScript);
        app.MapGet("/socket.io/socket.io.min.js", ClientScript);
    }

    private static string? ReadResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name);
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
