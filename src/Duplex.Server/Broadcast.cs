namespace Duplex.Server;

/// <summary>Frame once, send many: the same prepared bytes go to every recipient.</summary>
internal static class Broadcast
{
    public static async Task<int> SendAsync(IEnumerable<WebSocketConnection> recipients, PreparedMessage message, CancellationToken cancellationToken)
    {
        List<(WebSocketConnection, ValueTask)>? pending = null;
        int sent = 0;
        foreach (var connection in recipients)
        {
            if (connection.State != WebSocketState.Open) continue;
            ValueTask send;
            try
            {
                send = connection.SendAsync(message, cancellationToken);
            }
            catch (WebSocketClosedException)
            {
                continue;
            }
            if (send.IsCompletedSuccessfully)
            {
                send.GetAwaiter().GetResult(); // releases a pooled task source, if any
                sent++;
                continue;
            }
            // Sends that must wait (a busy or slow peer) run side by side; one slow peer does not
            // hold up the others.
            (pending ??= []).Add((connection, send));
        }
        if (pending is null) return sent;
        foreach (var (_, send) in pending)
        {
            try
            {
                await send.ConfigureAwait(false);
                sent++;
            }
            catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
            {
                // The recipient went away mid-broadcast; the others still get the message.
            }
        }
        return sent;
    }
}
