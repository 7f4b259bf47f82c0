using Duplex.Server;
using Duplex.SocketIO.EngineIO;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO;

/// <summary>
/// Hosts Socket.IO, or bare Engine.IO, in ASP.NET Core: <c>builder.Services.AddSocketIO(…)</c> registers the
/// server, <c>app.MapSocketIO(…)</c> serves it.
/// </summary>
public static class SocketIOEndpointRouteBuilderExtensions
{
    /// <summary>Registers a <see cref="SocketIOServer"/> singleton with these options.</summary>
    public static IServiceCollection AddSocketIO(this IServiceCollection services, Action<SocketIOOptions>? configure = null)
    {
        var options = new SocketIOOptions();
        configure?.Invoke(options);
        services.AddSingleton(sp => new SocketIOServer(options, sp.GetService<ILoggerFactory>()));
        return services;
    }

    /// <summary>
    /// Serves Socket.IO at <paramref name="path"/> (default "/socket.io", the clients' default): HTTP
    /// long-polling through ordinary requests, the WebSocket transport through Duplex's endpoint. Uses
    /// the <see cref="SocketIOServer"/> registered by <see cref="AddSocketIO"/>, or a default one.
    /// </summary>
    public static IEndpointConventionBuilder MapSocketIO(this IEndpointRouteBuilder endpoints, string path = "/socket.io", Action<SocketIOServer>? configure = null)
    {
        var server = endpoints.ServiceProvider.GetService<SocketIOServer>()
            ?? new SocketIOServer(new SocketIOOptions(), endpoints.ServiceProvider.GetService<ILoggerFactory>());
        configure?.Invoke(server);
        return endpoints.MapSocketIO(server, path);
    }

    /// <summary>
    /// Serves <paramref name="server"/> at <paramref name="path"/> (default "/socket.io"), for a server made
    /// by hand or several servers on different paths. When the application stops, its connections are
    /// closed ("server shutting down").
    /// </summary>
    public static IEndpointConventionBuilder MapSocketIO(this IEndpointRouteBuilder endpoints, SocketIOServer server, string path = "/socket.io")
    {
        endpoints.ServiceProvider.GetService<IHostApplicationLifetime>()?.ApplicationStopping.Register(server.Close);
        return endpoints.MapEngineIO(server.Engine, path).WithDisplayName("Socket.IO " + path);
    }

    /// <summary>
    /// Serves bare Engine.IO v4 (no Socket.IO on top) at <paramref name="path"/>; the reference
    /// server's default path is "/engine.io". The application reads and writes packets through
    /// <see cref="EngineIOServer.Connection"/> and the sessions it raises.
    /// </summary>
    public static IEndpointConventionBuilder MapEngineIO(this IEndpointRouteBuilder endpoints, EngineIOServer engine, string path = "/engine.io")
    {
        var options = engine.Options;
        // With UseDuplexFastPath, a new WebSocket session that needs nothing from the HttpContext is served
        // beneath the HTTP layer; every other request (polling, upgrades of polling sessions, refusals) comes here.
        var fastPath = new FastPathEndpoint(engine.AcceptsOnFastPath, engine.HandleFastPathWebSocketAsync, readsUser: true);
        var builder = endpoints.MapWebSocket(path.TrimEnd('/'), engine.HandleWebSocketAsync, fastPath, o =>
        {
            // Engine.IO keeps its own heartbeat (ping/pong packets), and sizes messages by maxHttpBufferSize.
            o.Connection.KeepAliveInterval = TimeSpan.Zero;
            o.Connection.MaxMessageSize = options.MaxHttpBufferSize;
            options.ConfigureWebSocket?.Invoke(o);
        });
        // One endpoint for every request to the path: Engine.IO judges it first, and only upgrade
        // requests it accepts reach the WebSocket handshake.
        builder.Add(endpoint =>
        {
            var webSocket = endpoint.RequestDelegate!;
            endpoint.RequestDelegate = context => engine.HandleRequestAsync(context, webSocket);
        });
        return builder.WithDisplayName("Engine.IO " + path);
    }
}
