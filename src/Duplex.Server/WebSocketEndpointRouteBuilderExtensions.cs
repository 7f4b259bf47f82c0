using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Duplex.Server;

/// <summary>Maps WebSocket endpoints with ASP.NET Core routing, and registers Duplex's server services.</summary>
public static class WebSocketEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps a WebSocket endpoint: upgrade requests to <paramref name="pattern"/> run
    /// <paramref name="handler"/> on the open connection. When the handler returns, a connection still
    /// open is closed with 1000. Composes with ASP.NET Core's endpoint conventions, such as
    /// <c>RequireAuthorization()</c>.
    /// </summary>
    public static IEndpointConventionBuilder MapWebSocket(this IEndpointRouteBuilder endpoints, string pattern,
        Func<WebSocketConnection, HttpContext, Task> handler, Action<WebSocketEndpointOptions>? configure = null)
    {
        var options = new WebSocketEndpointOptions();
        configure?.Invoke(options);
        return Map(endpoints, pattern, new WebSocketUpgrade(handler, options));
    }

    /// <summary>
    /// Maps a WebSocket endpoint whose handler needs only the connection. Such an endpoint can also be
    /// reached through the connection-level fast path (<see cref="DuplexListenOptionsExtensions.UseDuplexFastPath"/>).
    /// </summary>
    public static IEndpointConventionBuilder MapWebSocket(this IEndpointRouteBuilder endpoints, string pattern,
        Func<WebSocketConnection, Task> handler, Action<WebSocketEndpointOptions>? configure = null)
    {
        var options = new WebSocketEndpointOptions();
        configure?.Invoke(options);
        return Map(endpoints, pattern, new WebSocketUpgrade((connection, _) => handler(connection), options, handler));
    }

    private static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints, string pattern, WebSocketUpgrade upgrade) =>
        endpoints.Map(pattern, upgrade.HandleAsync)
            .WithMetadata(new WebSocketEndpointMetadata(upgrade))
            .WithDisplayName("WebSocket " + pattern);

    /// <summary>Registers the connection registry (and its groups) as a singleton.</summary>
    public static IServiceCollection AddDuplex(this IServiceCollection services)
    {
        services.AddSingleton(sp => new WebSocketConnectionRegistry(sp.GetService<IGroupBackplane>()));
        services.AddHostedService<BackplaneSubscription>();
        return services;
    }
}
