using System.Collections;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Duplex.Server.Transport;

/// <summary>
/// One accepted socket as Kestrel sees it: the connection, its transport (<see cref="SocketInput"/> and
/// <see cref="SocketOutput"/>, straight over the socket) and its feature collection, in as few objects
/// as it can be. Features Kestrel and middleware add go into a small array made on the first one.
/// </summary>
internal sealed class SocketConnection : ConnectionContext, IDuplexPipe, IFeatureCollection,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IConnectionSocketFeature
{
    // Fields, grouped by who may touch them.

    private static long s_lastId; // Interlocked

    // ── Set in the constructor, never changed: any thread.
    private readonly Socket _socket;
    private readonly SocketInput _input;
    private readonly SocketOutput _output;

    // ── Kestrel's connection pipeline, one step at a time (as for Kestrel's own connections: a feature
    // collection is not thread-safe).
    private IDuplexPipe _transport;
    private string? _id;
    private IDictionary<object, object?>? _items;
    private object?[]? _features; // type, instance, type, instance …
    private int _revision;
    private EndPoint? _local;
    private EndPoint? _remote;

    // ── Any thread: the receive loop ends the connection while the application asks for ConnectionClosed
    // or aborts it. Interlocked/volatile, each written once.
    private CancellationTokenSource? _closed;
    private int _receiveEnded;
    private volatile ConnectionAbortedException? _abortReason; // the first Abort's reason (a racing second may win)

    public SocketConnection(Socket socket, DuplexSocketTransportOptions options)
    {
        _socket = socket;
        // Receives and sends try the socket first (non-blocking); only waiting goes through the event loop.
        socket.Blocking = false;
        _input = new SocketInput(this, socket, options);
        _output = new SocketOutput(socket, options);
        _transport = this;
    }

    public void Start() => _input.Start();

    internal ConnectionAbortedException? AbortReason => _abortReason;

    PipeReader IDuplexPipe.Input => _input;

    PipeWriter IDuplexPipe.Output => _output;

    public override string ConnectionId
    {
        get => _id ??= "D" + Interlocked.Increment(ref s_lastId).ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
        set => _id = value;
    }

    public override IFeatureCollection Features => this;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport;
        set => _transport = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _local ??= Try(static s => s.LocalEndPoint, _socket);
        set => _local = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _remote ??= Try(static s => s.RemoteEndPoint, _socket);
        set => _remote = value;
    }

    private static EndPoint? Try(Func<Socket, EndPoint?> get, Socket socket)
    {
        try
        {
            return get(socket);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
        {
            return null;
        }
    }

    Socket IConnectionSocketFeature.Socket => _socket;

    /// <summary>Cancelled when the receiving side ends (the peer closed or reset, or the connection was aborted).</summary>
    public override CancellationToken ConnectionClosed
    {
        get
        {
            var closed = _closed;
            if (closed is null)
            {
                // Made on demand: most WebSocket connections never ask.
                closed = new CancellationTokenSource();
                if (Interlocked.CompareExchange(ref _closed, closed, null) is { } earlier)
                {
                    closed.Dispose();
                    closed = earlier;
                }
                else if (Volatile.Read(ref _receiveEnded) == 1) closed.Cancel();
            }
            return closed.Token;
        }
        set => throw new NotSupportedException("The transport owns ConnectionClosed.");
    }

    internal void OnReceiveEnded()
    {
        Interlocked.Exchange(ref _receiveEnded, 1);
        // Registrations run on the thread pool, not on the socket's event thread.
        if (Volatile.Read(ref _closed) is { } closed)
            ThreadPool.UnsafeQueueUserWorkItem(static c => c.Cancel(), closed, preferLocal: false);
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _abortReason ??= abortReason;
        _output.OnSocketClosing();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        _socket.Dispose();
    }

    public override async ValueTask DisposeAsync()
    {
        _input.Complete();
        _output.Complete();
        // What was flushed gets a moment to leave; a peer that does not read does not hold the socket open.
        await _output.DrainAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _output.Release();
        _socket.Dispose();
    }

    // IFeatureCollection: the connection's own features are this object; others are kept in pairs.
    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get => Get(key);
        set => Set(key, value);
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default => (TFeature?)Get(typeof(TFeature));

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => Set(typeof(TFeature), instance);

    private object? Get(Type type)
    {
        if (_features is { } features)
        {
            for (int i = 0; i < features.Length; i += 2)
            {
                if (ReferenceEquals(features[i], type)) return features[i + 1];
            }
        }
        return IsOwn(type) ? this : null;
    }

    // The features this object is itself.
    private static readonly Type[] s_own =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
        typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature), typeof(IConnectionSocketFeature),
    ];

    private static bool IsOwn(Type type) => Array.IndexOf(s_own, type) >= 0;

    private void Set(Type type, object? instance)
    {
        _revision++;
        var features = _features;
        if (features is not null)
        {
            for (int i = 0; i < features.Length; i += 2)
            {
                if (ReferenceEquals(features[i], type))
                {
                    features[i + 1] = instance;
                    return;
                }
            }
            for (int i = 0; i < features.Length; i += 2)
            {
                if (features[i] is null)
                {
                    features[i] = type;
                    features[i + 1] = instance;
                    return;
                }
            }
            Array.Resize(ref _features, features.Length * 2);
            _features[features.Length] = type;
            _features[features.Length + 1] = instance;
            return;
        }
        _features = new object?[8];
        _features[0] = type;
        _features[1] = instance;
    }

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        var shadowed = new HashSet<Type>();
        if (_features is { } features)
        {
            for (int i = 0; i < features.Length; i += 2)
            {
                if (features[i] is not Type type) continue;
                shadowed.Add(type);
                if (features[i + 1] is { } instance) yield return new(type, instance);
            }
        }
        foreach (var own in s_own)
        {
            if (!shadowed.Contains(own)) yield return new(own, this);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();
}
