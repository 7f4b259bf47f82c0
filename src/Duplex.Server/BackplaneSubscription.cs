using Microsoft.Extensions.Hosting;

namespace Duplex.Server;

/// <summary>Delivers other nodes' group broadcasts to this node's members, when a backplane is configured.</summary>
internal sealed class BackplaneSubscription(WebSocketConnectionRegistry registry) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        registry.Backplane?.StartAsync((group, payload, type) => registry[group].BroadcastLocalAsync(payload, type), cancellationToken)
        ?? Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
