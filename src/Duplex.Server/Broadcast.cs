namespace Duplex.Server;

/// <summary>
/// Frame once, send many: the same prepared bytes go to every recipient. A broadcast never waits
/// for a slow recipient: sends that cannot complete at once go on in the background, bounded per
/// connection by <see cref="WebSocketConnectionOptions.MaxBufferedBytes"/>, past which the
/// connection's <see cref="SlowConsumerPolicy"/> applies.
/// </summary>
internal static class Broadcast
{
    /// <summary>Returns how many recipients the message was handed to.</summary>
    public static Task<int> SendAsync(IEnumerable<WebSocketConnection> recipients, PreparedMessage message, CancellationToken cancellationToken)
    {
        int handed = 0;
        foreach (var connection in recipients)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ValueTask send;
            try
            {
                if (!connection.TrySendWithoutWaiting(message, out send)) continue;
            }
            catch (WebSocketClosedException)
            {
                continue;
            }
            handed++;
            if (send.IsCompletedSuccessfully)
            {
                send.GetAwaiter().GetResult(); // releases a pooled task source, if any
                continue;
            }
            _ = ObserveAsync(send);
        }
        return Task.FromResult(handed);
    }

    private static async Task ObserveAsync(ValueTask send)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
        {
            // The recipient went away mid-broadcast; the others are not affected.
        }
    }
}
