using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

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
        return Map(endpoints, pattern, new WebSocketUpgrade(handler, options, RegistryFor(endpoints.ServiceProvider)));
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
        return Map(endpoints, pattern, new WebSocketUpgrade((connection, _) => handler(connection), options, RegistryFor(endpoints.ServiceProvider), handler));
    }

    /// <summary>
    /// Maps a WebSocket endpoint whose handler takes the <see cref="HttpContext"/>, of which
    /// <paramref name="fastPath"/> serves the requests it accepts on the connection-level fast path.
    /// </summary>
    internal static IEndpointConventionBuilder MapWebSocket(this IEndpointRouteBuilder endpoints, string pattern,
        Func<WebSocketConnection, HttpContext, Task> handler, FastPathEndpoint fastPath, Action<WebSocketEndpointOptions>? configure)
    {
        var options = new WebSocketEndpointOptions();
        configure?.Invoke(options);
        return Map(endpoints, pattern, new WebSocketUpgrade(handler, options, RegistryFor(endpoints.ServiceProvider)) { FastPath = fastPath });
    }

    private static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints, string pattern, WebSocketUpgrade upgrade) =>
        endpoints.Map(pattern, upgrade.HandleAsync)
            .WithMetadata(new WebSocketEndpointMetadata(upgrade))
            .WithDisplayName("WebSocket " + pattern);

    // Without AddDuplex the endpoints of one application still share a registry, so that
    // HandshakeLimitOptions.MaxConnections counts the whole server's connections, as documented.
    private static readonly ConditionalWeakTable<IServiceProvider, WebSocketConnectionRegistry> Unregistered = new();

    /// <summary>
    /// The application's registry: AddDuplex's, or (for an application that only serves WebSockets and
    /// never asks for the registry, as Socket.IO's endpoint does) one made here for all its endpoints. A
    /// backplane without AddDuplex would be ignored without a word: that fails at startup instead.
    /// </summary>
    private static WebSocketConnectionRegistry RegistryFor(IServiceProvider services)
    {
        if (services.GetService<WebSocketConnectionRegistry>() is { } registry) return registry;
        if (services.GetService<IGroupBackplane>() is not null)
            throw new InvalidOperationException(
                "Unable to find the required services: an IGroupBackplane is registered, but Duplex's connection registry is not. "
                + "Call 'builder.Services.AddDuplex()' (next to the backplane's registration) before MapWebSocket.");
        return Unregistered.GetValue(services, static _ => new WebSocketConnectionRegistry());
    }

    /// <summary>
    /// Registers the connection registry (and its groups) as a singleton, the delivery of a backplane's
    /// broadcasts when one is registered, and the graceful shutdown: when the host stops, every open
    /// connection is closed with 1001 Going Away (or drained, see <see cref="DuplexShutdownOptions"/>)
    /// before the web server stops. Needed to reach the registry, to use a backplane, or for that
    /// shutdown; endpoints mapped without it still share one registry per application.
    /// </summary>
    public static IServiceCollection AddDuplex(this IServiceCollection services)
    {
        services.AddOptions<DuplexShutdownOptions>();
        services.TryAddSingleton(sp => new WebSocketConnectionRegistry(sp.GetService<IGroupBackplane>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, BackplaneSubscription>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DuplexShutdown>());
        return services;
    }

    /// <summary>
    /// <see cref="AddDuplex(IServiceCollection)"/>, with what the host's stop does to open connections
    /// (e.g. <c>o.DrainWindow = TimeSpan.FromSeconds(10)</c> to close them with 1012 spread over 10 s).
    /// </summary>
    public static IServiceCollection AddDuplex(this IServiceCollection services, Action<DuplexShutdownOptions> configureShutdown)
    {
        ArgumentNullException.ThrowIfNull(configureShutdown);
        services.Configure(configureShutdown);
        return services.AddDuplex();
    }
}
