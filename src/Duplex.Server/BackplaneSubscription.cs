using Microsoft.Extensions.Hosting;

namespace Duplex.Server;

/// <summary>Delivers other nodes' group broadcasts to this node's members, when a backplane is configured.</summary>
internal sealed class BackplaneSubscription(WebSocketConnectionRegistry registry) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        // A delivery for a group with no members here is a lookup, not a new group: other nodes' group
        // names must not pile up in this registry.
        registry.Backplane?.StartAsync((group, payload, type) => registry.BroadcastToGroupAsync(group, payload, type, CancellationToken.None), cancellationToken)
        ?? Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
