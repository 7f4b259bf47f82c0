using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Duplex.Server;

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
        var upgrade = new WebSocketUpgrade(handler, options);
        return endpoints.Map(pattern, upgrade.HandleAsync).WithDisplayName("WebSocket " + pattern);
    }

    public static IEndpointConventionBuilder MapWebSocket(this IEndpointRouteBuilder endpoints, string pattern,
        Func<WebSocketConnection, Task> handler, Action<WebSocketEndpointOptions>? configure = null) =>
        endpoints.MapWebSocket(pattern, (connection, _) => handler(connection), configure);

    /// <summary>Registers the connection registry (and its groups) as a singleton.</summary>
    public static IServiceCollection AddDuplex(this IServiceCollection services)
    {
        services.AddSingleton(sp => new WebSocketConnectionRegistry(sp.GetService<IGroupBackplane>()));
        services.AddHostedService<BackplaneSubscription>();
        return services;
    }
}
