using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Duplex.SocketIO.Redis;

/// <summary>
/// One server's use of the stream every namespace shares (as the reference: one stream, one reader for all
/// namespaces): the writer, which adds entries in order and holds them while Redis is away, and the reader,
/// which polls XREAD from the last id it saw and hands each entry to its namespace's adapter.
/// <para>
/// Reading: StackExchange.Redis multiplexes one connection and does not support blocking commands, so
/// XREAD BLOCK is not used: the reader asks <c>XREAD COUNT {ReadCount} STREAMS {name} {lastId}</c>, again at once
/// (and for up to 10 × ReadCount) when a page came back full, else after <see cref="RedisStreamsAdapterOptions.PollInterval"/>
/// — the latency it adds is at most that interval (half on average).
/// </para>
/// <para>
/// Loss: ids only grow and trimming removes the oldest entries, so after a failed read (an outage), after a
/// stall (more than a second since the previous read was sent) and while pages come back full (this node is behind), the
/// reader reads with XINFO STREAM in the same transaction (MULTI), and compares its last id with it: when the stream's
/// first entry is past it, <c>entries-added − length</c> (how many entries the stream has lost from its head,
/// i.e. the position of its first entry) minus this node's position (entries-added when it started, plus one per
/// entry read since) were trimmed before this node read them; they are logged and counted (<c>duplex.socketio.redis.errors</c>, kind "stream-trimmed"). Redis 7.0 gives those fields.
/// </para>
/// </summary>
internal sealed class RedisStream
{
    private sealed class Pending(NameValueEntry[] fields, Action<string?>? added)
    {
        public NameValueEntry[] Fields { get; } = fields;
        private Action<string?>? _added = added;
        public bool Held;

        /// <summary>Tells the adder (once) the entry's id, or null when it could not be added at once.</summary>
        public void Notify(string? id) => Interlocked.Exchange(ref _added, null)?.Invoke(id);
    }

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisStreamsAdapterOptions _options;
    private readonly ILogger _log;
    private readonly RedisKey _key;
    private readonly ConcurrentDictionary<string, RedisStreamsAdapter> _adapters = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private Channel<Pending>? _queue;
    private CancellationTokenSource? _running;
    private Task _writing = Task.CompletedTask;
    private TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _writeOutage;
    private long _held;
    private int _droppedLogged;

    // The reader's place: the last id read, and its position — how many entries the stream had ever been given
    // up to and including it (XINFO's entries-added then), for counting those trimmed before it read them; -1
    // when unknown (Redis before 7.0).
    private string _lastId = "0-0";
    private long _seen = -1;

    // The writer's place: the id of the last add it saw answered, else the stream's end when the reader started.
    private string? _lastAdded;
    private volatile string? _startId;

    public RedisStream(IConnectionMultiplexer redis, RedisStreamsAdapterOptions options, ILogger log)
    {
        _redis = redis;
        _options = options;
        _log = log;
        _key = options.StreamName;
    }

    /// <summary>The last id the reader has handed on (the node's place in the stream).</summary>
    public string LastId => Volatile.Read(ref _lastId);

    /// <summary>Completes when the reader knows where the stream ends (it reads what comes after).</summary>
    public Task Started
    {
        get
        {
            lock (_gate) return _started.Task;
        }
    }

    /// <summary>Joins a namespace's adapter; the first one starts the reader and the writer.</summary>
    public void Register(RedisStreamsAdapter adapter)
    {
        lock (_gate)
        {
            _adapters[adapter.Namespace.Name] = adapter;
            if (_running is not null) return;
            _running = new CancellationTokenSource();
            _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, _options.MaxBufferedMessages)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
            if (_started.Task.IsCompleted) _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
            var token = _running.Token;
            _ = Task.Run(() => ReadLoopAsync(token), CancellationToken.None);
            var reader = _queue.Reader;
            _writing = Task.Run(() => WriteLoopAsync(reader, token), CancellationToken.None);
        }
    }

    /// <summary>
    /// Leaves; the last one stops the reader and, once it has added what is queued (waiting at most
    /// <see cref="RedisStreamsAdapterOptions.RequestsTimeout"/>), the writer; entries still held then are dropped, and logged.
    /// </summary>
    public async Task UnregisterAsync(RedisStreamsAdapter adapter)
    {
        CancellationTokenSource running;
        Task writing;
        lock (_gate)
        {
            if (!_adapters.TryRemove(new KeyValuePair<string, RedisStreamsAdapter>(adapter.Namespace.Name, adapter))) return;
            if (!_adapters.IsEmpty || _running is null) return;
            running = _running;
            writing = _writing;
            _running = null;
            _queue?.Writer.TryComplete();
            _queue = null;
        }
        try
        {
            await writing.WaitAsync(_options.RequestsTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        running.Cancel();
        running.Dispose();
    }

    // ───────────────────────────── writing ─────────────────────────────

    /// <summary>
    /// Queues an entry; <paramref name="added"/> hears its id once it is in the stream, or null at once when Redis
    /// is away (the entry is held and added when Redis is back). When <see cref="RedisStreamsAdapterOptions.MaxBufferedMessages"/>
    /// entries wait already, the caller waits for room while Redis is up (backpressure, at most
    /// <see cref="RedisStreamsAdapterOptions.RequestsTimeout"/>); during an outage, or after that wait, the entry is
    /// dropped, logged once and counted (kind "buffer-full"). Never throws.
    /// </summary>
    public ValueTask AddAsync(NameValueEntry[] fields, Action<string?>? added)
    {
        var pending = new Pending(fields, added);
        Channel<Pending>? queue;
        lock (_gate) queue = _queue;
        if (queue is not null && queue.Writer.TryWrite(pending))
        {
            if (_writeOutage) Hold(pending);
            return ValueTask.CompletedTask;
        }
        if (queue is null || _writeOutage)
        {
            Drop(pending);
            return ValueTask.CompletedTask;
        }
        return WaitForRoomAsync(queue, pending);
    }

    private async ValueTask WaitForRoomAsync(Channel<Pending> queue, Pending pending)
    {
        using var timeout = new CancellationTokenSource(_options.RequestsTimeout);
        try
        {
            await queue.Writer.WriteAsync(pending, timeout.Token).ConfigureAwait(false);
            if (_writeOutage) Hold(pending);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            Drop(pending);
        }
    }

    private void Drop(Pending pending)
    {
        RedisAdapterMetrics.Error("buffer-full");
        if (Interlocked.Exchange(ref _droppedLogged, 1) == 0)
            _log.LogWarning("Socket.IO Redis streams adapter: {Max} entries are waiting for Redis already; dropping new ones (each counted in duplex.socketio.redis.errors, kind buffer-full)", _options.MaxBufferedMessages);
        pending.Notify(null);
    }

    private void Hold(Pending pending)
    {
        if (pending.Held) return;
        pending.Held = true;
        Interlocked.Increment(ref _held);
        RedisAdapterMetrics.StreamHeld.Add(1);
        pending.Notify(null);
    }

    /// <summary>
    /// Adds queued entries in order, a batch at a time (pipelined); entries that fail stay at the head and are
    /// tried again, with backoff, until Redis takes them. Adds that Redis ran but whose answers were lost (the
    /// connection broke) are found in the stream first (<see cref="LandedAsync"/>) and not added twice.
    /// </summary>
    private async Task WriteLoopAsync(ChannelReader<Pending> reader, CancellationToken token)
    {
        var batch = new List<Pending>(256);
        var failed = new List<Pending>(256);
        int attempt = 0;
        bool unsure = false;
        var db = _redis.GetDatabase();
        try
        {
            while (!token.IsCancellationRequested)
            {
                if (batch.Count == 0 && !await reader.WaitToReadAsync(token).ConfigureAwait(false)) return;
                if (unsure)
                {
                    // Some adds of the last batch failed: those Redis did run before the connection broke (their
                    // answers lost) are in the stream already — the first ones of what failed, as this writer's
                    // commands run in order. Count them instead of adding them twice.
                    try
                    {
                        int landed = await LandedAsync(db, batch).ConfigureAwait(false);
                        batch.RemoveRange(0, landed);
                        unsure = false;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt++, 5))), token).ConfigureAwait(false);
                        continue;
                    }
                }
                while (batch.Count < 256 && reader.TryRead(out var next)) batch.Add(next);
                var adds = new Task<RedisValue>[batch.Count];
                for (int i = 0; i < batch.Count; i++)
                    adds[i] = AddAsync(db, batch[i].Fields);
                Exception? error = null;
                bool answersLost = false;
                bool wasOutage = _writeOutage;
                for (int i = 0; i < batch.Count; i++)
                {
                    try
                    {
                        var id = (string)(await adds[i].ConfigureAwait(false))!;
                        RedisAdapterMetrics.Published.Add(1);
                        _lastAdded = id;
                        batch[i].Notify(id);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                    {
                        // Redis away, or refusing (WRONGTYPE): held and tried again; logged once per outage.
                        // The outage is marked before the first entry is held, so that what is queued after an
                        // emitter was told "held" is held too, not left waiting uncounted behind the retries.
                        error ??= ex;
                        _writeOutage = true;
                        // Only a broken connection leaves it unknown whether Redis ran the add; an error
                        // answer (WRONGTYPE, OOM) says it did not.
                        if (ex is not RedisServerException) answersLost = true;
                        Hold(batch[i]);
                        failed.Add(batch[i]);
                    }
                }
                (batch, failed) = (failed, batch);
                failed.Clear();
                if (error is null)
                {
                    attempt = 0;
                    if (_writeOutage)
                    {
                        _writeOutage = false;
                        Volatile.Write(ref _droppedLogged, 0);
                        _log.LogInformation("Socket.IO Redis streams adapter: adding to stream {Stream} again; {Held} entries held meanwhile were added",
                            _options.StreamName, Interlocked.Exchange(ref _held, 0));
                    }
                    continue;
                }
                unsure = answersLost;
                RedisAdapterMetrics.Error("publish");
                // Entries queued meanwhile are held now too (counted, their emitters answered), not only when
                // the next attempt reaches them.
                while (batch.Count < 256 && reader.TryRead(out var queued)) { Hold(queued); batch.Add(queued); }
                if (!wasOutage)
                {
                    _log.LogWarning("Socket.IO Redis streams adapter: cannot add to stream {Stream} ({Reason}); holding entries (at most {Max}) until Redis is back",
                        _options.StreamName, error.Message, _options.MaxBufferedMessages);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt++, 5))), token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            int lost = batch.Count;
            while (reader.TryRead(out _)) lost++;
            if (lost > 0) _log.LogWarning("Socket.IO Redis streams adapter: stopped with {Lost} entries not added to the stream", lost);
        }
    }

    /// <summary>
    /// How many of <paramref name="failed"/> (in order) are in the stream after all: the entries after the last
    /// add this writer saw answered (or the stream's end when it started) that carry one of this server's uids.
    /// Reads at most MaxLength + 2 pages of ReadCount × 10.
    /// </summary>
    private async Task<int> LandedAsync(IDatabase db, List<Pending> failed)
    {
        var ours = new HashSet<string>(_adapters.Values.Select(a => a.Uid), StringComparer.Ordinal);
        string from = _lastAdded ?? _startId ?? "0-0";
        int landed = 0, page = Math.Max(1, _options.ReadCount * 10);
        for (int pages = 0; pages < _options.MaxLength / page + 2 && landed < failed.Count; pages++)
        {
            var entries = await db.StreamRangeAsync(_key, "(" + from, "+", page).ConfigureAwait(false);
            foreach (var entry in entries)
            {
                from = entry.Id!;
                if (landed >= failed.Count) break;
                var uid = entry.Values.FirstOrDefault(v => v.Name == "uid").Value;
                if (uid.IsNull || !ours.Contains(uid!)) continue;
                _lastAdded = from;
                failed[landed++].Notify(from);
            }
            if (entries.Length < page) break;
        }
        if (landed > 0)
        {
            RedisAdapterMetrics.Published.Add(landed);
            _log.LogInformation("Socket.IO Redis streams adapter: {Landed} entries whose adds went unanswered were in stream {Stream} already; not added again", landed, _options.StreamName);
        }
        return landed;
    }

    private Task<RedisValue> AddAsync(IDatabase db, NameValueEntry[] fields)
    {
        try
        {
            return db.StreamAddAsync(_key, fields, maxLength: _options.MaxLength, useApproximateMaxLength: true);
        }
        catch (Exception ex)
        {
            return Task.FromException<RedisValue>(ex);
        }
    }

    // ───────────────────────────── reading ─────────────────────────────

    private async Task ReadLoopAsync(CancellationToken token)
    {
        var db = _redis.GetDatabase();
        int attempt = 0;
        try
        {
            // Where the stream ends now: what comes after is this node's (the reference reads from "$").
            while (true)
            {
                try
                {
                    var info = await StreamInfoAsync(db).ConfigureAwait(false);
                    Volatile.Write(ref _lastId, info?.LastId ?? "0-0");
                    _startId = LastId;
                    _seen = info is not { } i ? 0 : i.EntriesAdded; // no stream yet: nothing before this node's place
                    break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    RedisAdapterMetrics.Error("connection");
                    if (attempt == 0) _log.LogWarning("Socket.IO Redis streams adapter: cannot read stream {Stream} yet ({Reason}); retrying", _options.StreamName, ex.Message);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt++, 5))), token).ConfigureAwait(false);
                }
            }
            lock (_gate) _started.TrySetResult();
            bool failed = false, full = false;
            long lastReadStarted = Environment.TickCount64;
            attempt = 0;
            while (!token.IsCancellationRequested)
            {
                StreamEntry[] entries;
                try
                {
                    // Behind (the last page was full): read bigger pages to catch up.
                    int count = full ? _options.ReadCount * 10 : _options.ReadCount;
                    // After an outage, a stall (over a second since the previous read was sent: this process
                    // paused, and that read's answer may be old), or while behind, the read comes with XINFO STREAM
                    // in one transaction, so trimming past this node's place is seen exactly.
                    long started = Environment.TickCount64;
                    bool check = failed || full || started - lastReadStarted > 1000;
                    lastReadStarted = started;
                    entries = check
                        ? await CheckedReadAsync(db, count).ConfigureAwait(false)
                        : await db.StreamReadAsync(_key, LastId, count).ConfigureAwait(false);
                    full = entries.Length >= count;
                    if (failed)
                    {
                        failed = false;
                        attempt = 0;
                        _log.LogInformation("Socket.IO Redis streams adapter: reading stream {Stream} again from {LastId}", _options.StreamName, LastId);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException && !token.IsCancellationRequested)
                {
                    // Redis away, or an answer of the wrong shape (the key is not a stream): never ends the reader.
                    if (!failed)
                    {
                        RedisAdapterMetrics.Error("connection");
                        _log.LogWarning("Socket.IO Redis streams adapter: cannot read stream {Stream} ({Reason}); resuming from {LastId} when Redis is back",
                            _options.StreamName, ex.Message, LastId);
                    }
                    failed = true;
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt++, 5))), token).ConfigureAwait(false);
                    continue;
                }
                foreach (var entry in entries)
                {
                    Dispatch(entry);
                    Volatile.Write(ref _lastId, entry.Id.ToString());
                    if (_seen >= 0) _seen++;
                }
                if (!full) await Task.Delay(_options.PollInterval, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private void Dispatch(StreamEntry entry)
    {
        ClusterMessage? message;
        try
        {
            message = RedisStreamsCodec.DecodeEntry(entry.Values);
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException)
        {
            RedisAdapterMetrics.Error("malformed");
            _log.LogWarning("Socket.IO Redis streams adapter: ignored malformed stream entry {Id}: {Reason}", entry.Id, ex.Message);
            return;
        }
        if (message?.Nsp is { } nsp && _adapters.TryGetValue(nsp, out var adapter)) adapter.OnStreamMessage(message, entry.Id.ToString());
    }

    /// <summary>XINFO STREAM and XREAD in one transaction: what the stream lost from its head before this read is counted.</summary>
    private async Task<StreamEntry[]> CheckedReadAsync(IDatabase db, int count)
    {
        var transaction = db.CreateTransaction();
        var info = transaction.ExecuteAsync("XINFO", "STREAM", _key);
        var read = transaction.StreamReadAsync(_key, LastId, count);
        await transaction.ExecuteAsync().ConfigureAwait(false);
        StreamInfo? parsed;
        try
        {
            parsed = ParseInfo(await info.ConfigureAwait(false));
        }
        catch (RedisServerException ex) when (ex.Message.Contains("no such key", StringComparison.OrdinalIgnoreCase))
        {
            parsed = null;
        }
        CountTrimmed(parsed);
        return await read.ConfigureAwait(false);
    }

    private void CountTrimmed(StreamInfo? info)
    {
        string last = LastId;
        if (info is not { } i)
        {
            _seen = 0; // no stream at all (Redis restarted empty): whatever comes is new
            return;
        }
        if (i.FirstId is null || CompareIds(i.FirstId, last) <= 0) return; // this node's place is still in the stream
        if (i.EntriesAdded < 0) return; // Redis before 7.0: no counters to tell
        // Every entry left is after this node's place; before the first of them, entries-added − length were removed.
        long removed = i.EntriesAdded - i.Length;
        // Fewer added than this node had seen: the stream was made anew (Redis restarted empty), and all it removed is after this node's place.
        long lost = i.EntriesAdded < _seen || _seen < 0 ? removed : removed - _seen;
        if (lost > 0)
        {
            RedisAdapterMetrics.Errors.Add(lost, new KeyValuePair<string, object?>("kind", "stream-trimmed"));
            _log.LogWarning("Socket.IO Redis streams adapter: stream {Stream} was trimmed past this node's last id {LastId} (MaxLength {MaxLength}): {Lost} entries were never read here; resuming at {FirstId}",
                _options.StreamName, last, _options.MaxLength, lost, i.FirstId);
        }
        _seen = removed;
    }

    private readonly record struct StreamInfo(long Length, string? LastId, string? FirstId, long EntriesAdded);

    /// <summary>XINFO STREAM's length, ids and counters; null when the stream does not exist.</summary>
    private async Task<StreamInfo?> StreamInfoAsync(IDatabase db)
    {
        RedisResult result;
        try
        {
            result = await db.ExecuteAsync("XINFO", "STREAM", _key).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("no such key", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        return ParseInfo(result);
    }

    private static StreamInfo ParseInfo(RedisResult result)
    {
        var items = (RedisResult[])result!;
        long length = 0, added = -1;
        string? last = null, first = null;
        for (int k = 0; k + 1 < items.Length; k += 2)
        {
            var value = items[k + 1];
            switch ((string?)items[k])
            {
                case "length": length = (long)value; break;
                case "last-generated-id": last = (string?)value; break;
                case "entries-added": added = (long)value; break;
                case "first-entry" when !value.IsNull: first = (string?)((RedisResult[])value!)[0]; break;
            }
        }
        return new StreamInfo(length, last, first, added);
    }

    /// <summary>Orders stream ids <c>ms-seq</c> numerically; a malformed id sorts first.</summary>
    internal static int CompareIds(string a, string b)
    {
        var (am, asq) = ParseId(a);
        var (bm, bsq) = ParseId(b);
        return am != bm ? am.CompareTo(bm) : asq.CompareTo(bsq);
    }

    internal static (ulong Ms, ulong Seq) ParseId(string id)
    {
        int dash = id.IndexOf('-');
        if (dash <= 0
            || !ulong.TryParse(id.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out ulong ms)
            || !ulong.TryParse(id.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong seq))
            return (0, 0);
        return (ms, seq);
    }
}
