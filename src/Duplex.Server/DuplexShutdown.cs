using Duplex.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Duplex.Server;

/// <summary>
/// What happens to open WebSocket connections when the host stops (registered by
/// <see cref="WebSocketEndpointRouteBuilderExtensions.AddDuplex(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{DuplexShutdownOptions})"/>,
/// and used by <see cref="WebSocketServer"/>). By default every connection is closed at once with
/// 1001 Going Away ("server shutting down") as the host begins to stop, before the web server stops, so
/// the handlers' reads end and the host need not wait out its shutdown timeout.
/// </summary>
public sealed class DuplexShutdownOptions
{
    /// <summary>
    /// Whether the host's stop closes the connections at all. Default true; false leaves them to the
    /// application (Kestrel then waits for the handlers up to the host's shutdown timeout, and drops
    /// what is left: the clients see 1006).
    /// </summary>
    public bool CloseConnections { get; set; } = true;

    /// <summary>
    /// When positive, the stop drains instead: each connection is closed with 1012 Service Restart
    /// ("service restart") at its own random moment within this window
    /// (<see cref="WebSocketConnectionRegistry.DrainAsync"/>), and upgrades meanwhile are answered 503 with
    /// <c>Retry-After</c>. Keep it well inside the host's <c>HostOptions.ShutdownTimeout</c> (30 s by
    /// default) with room for a close timeout: when that token fires the connections left are closed at
    /// once. Default <see cref="TimeSpan.Zero"/>: all at once, with 1001.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative or infinite value, or more than a day.</exception>
    public TimeSpan DrainWindow
    {
        get => _drainWindow;
        set => _drainWindow = value >= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan && value.TotalDays <= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Zero or a positive time of at most a day.");
    }

    private TimeSpan _drainWindow;
}

/// <summary>
/// Closes the registry's connections when the host begins to stop: in StoppingAsync, which runs before
/// any hosted service's StopAsync, so before Kestrel's (that waits for requests in flight — every
/// WebSocket handler is one — up to the shutdown timeout, then aborts them).
/// </summary>
internal sealed class DuplexShutdown(WebSocketConnectionRegistry registry, DuplexShutdownOptions options, ILoggerFactory? loggerFactory = null)
    : IHostedLifecycleService
{
    public DuplexShutdown(WebSocketConnectionRegistry registry, IOptions<DuplexShutdownOptions> options, ILoggerFactory? loggerFactory = null)
        : this(registry, options.Value, loggerFactory)
    {
    }

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Duplex.Server.Shutdown");

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (!options.CloseConnections) return;
        var window = options.DrainWindow;
        if (window > TimeSpan.Zero)
        {
            registry.BeginShutdown(CloseStatus.ServiceRestart, "service restart");
            _logger.LogInformation("Shutting down: draining {Count} WebSocket connection(s) with 1012 over {Window}", registry.Count, window);
            await registry.DrainAsync(window, CloseStatus.ServiceRestart, "service restart", cancellationToken).ConfigureAwait(false);
        }
        else
        {
            registry.BeginShutdown(CloseStatus.GoingAway, "server shutting down");
            _logger.LogInformation("Shutting down: closing {Count} WebSocket connection(s) with 1001", registry.Count);
            try
            {
                await registry.CloseAllAsync(CloseStatus.GoingAway, "server shutting down").WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The shutdown timeout is up: Kestrel's stop drops what is still closing.
                _logger.LogWarning("Shutting down: {Count} WebSocket connection(s) still closing when the shutdown timeout ran out", registry.Count);
            }
        }
    }

    // A WebSocketServer started again after a stop takes connections again.
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        registry.EndShutdown();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
