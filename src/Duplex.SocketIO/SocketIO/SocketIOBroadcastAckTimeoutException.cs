namespace Duplex.SocketIO;

/// <summary>
/// A broadcast with acknowledgements (<see cref="BroadcastOperator.EmitWithAckAsync"/>) whose timeout
/// passed before every recipient answered: the answers that did come are kept, as in the reference's
/// <c>err.responses</c>.
/// </summary>
public sealed class SocketIOBroadcastAckTimeoutException(int expected, IReadOnlyList<SocketIOArgs> responses)
    : TimeoutException($"operation has timed out: {responses.Count} of {expected} acknowledgements received")
{
    /// <summary>How many recipients were known to be asked when the timeout passed (servers that never reported are not in it).</summary>
    public int Expected { get; } = expected;

    /// <summary>The acknowledgements that arrived in time, in the order they came.</summary>
    public IReadOnlyList<SocketIOArgs> Responses { get; } = responses;
}
