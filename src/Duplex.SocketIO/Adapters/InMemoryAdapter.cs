namespace Duplex.SocketIO.Adapters;

/// <summary>
/// The default adapter: rooms and broadcasts of one process, nothing forwarded anywhere.
/// </summary>
public sealed class InMemoryAdapter(SocketIONamespace ns) : SocketIOAdapter(ns);
