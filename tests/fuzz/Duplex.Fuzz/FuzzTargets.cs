namespace Duplex.Fuzz;

/// <summary>One fuzz target: takes any bytes; returns for every input the code under test has a documented outcome for.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// The fuzz targets by name (docs/fuzzing.md). Each catches only the documented errors of the code it drives;
/// any other exception, including <see cref="FuzzInvariantException"/> from a broken invariant, escapes, and
/// afl-fuzz counts it as a crash. The regression tests replay the committed corpora through these same methods.
/// </summary>
public static class FuzzTargets
{
    private static readonly (string Name, FuzzTarget Run)[] All =
    [
        ("websocket", WebSocketTarget.Run),
        ("request-head", RequestHeadTarget.Run),
        ("response-head", ResponseHeadTarget.Run),
        ("deflate-negotiation", DeflateNegotiationTarget.Run),
        ("engineio", EngineIOTarget.Run),
        ("socketio", SocketIOTarget.Run),
        ("msgpack", MsgPackTarget.Run),
    ];

    /// <summary>Every target's name, in the order scripts/fuzz.sh runs them.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(t => t.Name).ToArray();

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Get(string name) => All.FirstOrDefault(t => t.Name == name).Run;
}

/// <summary>Something that must hold for every input did not: a bug even though nothing threw.</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);
