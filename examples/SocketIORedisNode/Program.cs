// One Socket.IO server of a cluster joined through Redis: the chat of the README (rooms, "say" to a
// room) plus a small control API the cluster tests drive (/ctl/...). Run two of them on one machine:
//   dotnet run --project examples/SocketIORedisNode -- --redis 127.0.0.1:6379 --name A --port 3001
//   dotnet run --project examples/SocketIORedisNode -- --redis 127.0.0.1:6379 --name B --port 3002
// --adapter streams uses the Redis streams adapter (@socket.io/redis-streams-adapter's protocol) instead of
// the classic pub/sub one (--max-length N and --max-buffered N set its bounds); --recovery turns
// connection state recovery on (kept in Redis with streams).
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Duplex.SocketIO;
using Duplex.SocketIO.Adapters;
using Duplex.SocketIO.Redis;
using StackExchange.Redis;

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

string redisAddress = Arg("--redis", "127.0.0.1:6379");
string nodeName = Arg("--name", "duplex");
int port = int.Parse(Arg("--port", "0"));
bool streams = Arg("--adapter", "classic") == "streams";
bool recovery = args.Contains("--recovery");

// Counters of the Redis adapter (meter "Duplex"), by instrument and kind, for /ctl/metrics.
var counters = new ConcurrentDictionary<string, long>();
using var listener = new MeterListener();
listener.InstrumentPublished = (instrument, l) =>
{
    if (instrument.Meter.Name == "Duplex" && instrument.Name.StartsWith("duplex.socketio.redis.", StringComparison.Ordinal)) l.EnableMeasurementEvents(instrument);
};
listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
{
    string key = instrument.Name;
    foreach (var tag in tags) key += ":" + tag.Value;
    counters.AddOrUpdate(key, value, (_, old) => old + value);
});
listener.Start();

var config = ConfigurationOptions.Parse(redisAddress);
config.AbortOnConnectFail = false;                   // start, and serve local clients, while Redis is away
config.BacklogPolicy = BacklogPolicy.FailFast;       // pub/sub has no memory: drop at once rather than deliver late (the streams adapter holds its own entries)
config.ReconnectRetryPolicy = new LinearRetry(500);
config.ConnectTimeout = 2000;
config.ClientName = "duplex-socketio-" + nodeName;
await using var redis = await ConnectionMultiplexer.ConnectAsync(config);

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Logging.AddFilter("Duplex.SocketIO.Redis", LogLevel.Information);
builder.Services.AddSocketIO();
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
var app = builder.Build();
var io = app.Services.GetRequiredService<SocketIOServer>();
if (recovery) io.ConnectionStateRecovery = new ConnectionStateRecoveryOptions();
if (streams) io.UseRedisStreamsAdapter(redis, o =>
{
    o.RequestsTimeout = TimeSpan.FromSeconds(3);
    o.MaxLength = int.Parse(Arg("--max-length", "10000"));            // the stream's bound
    o.MaxBufferedMessages = int.Parse(Arg("--max-buffered", "10000")); // entries held while Redis is away
}, app.Services.GetRequiredService<ILoggerFactory>());
else io.UseRedisAdapter(redis, o => o.RequestsTimeout = TimeSpan.FromSeconds(3), app.Services.GetRequiredService<ILoggerFactory>());

io.OnConnection(socket =>
{
    if (!socket.Recovered) // a recovered socket keeps the data it had (on whichever node it was)
    {
        socket.Data["name"] = socket.Handshake.Query.TryGetValue("name", out var n) ? n : socket.Id;
        socket.Data["node"] = nodeName;
    }
    socket.On("join", async e =>
    {
        var room = e.Args.Get<string>(0)!;
        socket.Join(room);
        await e.AckAsync("joined " + room);
    });
    // The chat: everyone in the room but the sender, on every server.
    socket.On("say", async e =>
    {
        await socket.To(e.Args.Get<string>(0)!).EmitAsync("said", new { from = socket.Data["name"], node = nodeName, text = e.Args.Get<string>(1) });
        await e.AckAsync("sent");
    });
});
io.OnServerSideEmit("hello", e => e.AckAsync(new { node = nodeName, got = e.Args.Get<string>(0) }));

var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
string Q(HttpContext c, string name, string fallback = "") => c.Request.Query.TryGetValue(name, out var v) ? v.ToString() : fallback;
BroadcastOperator Select(HttpContext c)
{
    var op = io.Sockets.Except();
    if (Q(c, "room") is { Length: > 0 } room) op = op.To(room.Split(','));
    if (Q(c, "except") is { Length: > 0 } except) op = op.Except(except.Split(','));
    if (Q(c, "timeoutMs") is { Length: > 0 } ms) op = op.Timeout(TimeSpan.FromMilliseconds(int.Parse(ms)));
    return op;
}

app.MapGet("/ctl/emit", async (HttpContext c) =>
{
    object payload = Q(c, "binary") == "1" ? new { node = nodeName, bytes = new byte[] { 1, 2, 3, 250 } } : new { node = nodeName, text = Q(c, "text") };
    int local = await Select(c).EmitAsync(Q(c, "event", "news"), payload);
    return Results.Json(new { local }, json);
});
app.MapGet("/ctl/emit-ack", async (HttpContext c) =>
{
    var sw = Stopwatch.StartNew();
    try
    {
        var answers = await Select(c).EmitWithAckAsync(Q(c, "event", "question"), nodeName);
        return Results.Json(new { answers = answers.Select(a => a.Count > 0 ? a[0] : default).ToArray(), elapsedMs = sw.ElapsedMilliseconds }, json);
    }
    catch (TimeoutException)
    {
        return Results.Json(new { timeout = true, elapsedMs = sw.ElapsedMilliseconds }, json);
    }
});
app.MapGet("/ctl/fetch", async (HttpContext c) =>
{
    var sw = Stopwatch.StartNew();
    try
    {
        var sockets = await Select(c).FetchSocketsAsync();
        return Results.Json(new
        {
            elapsedMs = sw.ElapsedMilliseconds,
            sockets = sockets.Select(s => new { id = s.Id, local = s.IsLocal, rooms = s.Rooms.ToArray(), data = s.Data, address = s.Handshake.ValueKind == JsonValueKind.Object && s.Handshake.TryGetProperty("address", out var a) ? a.ToString() : null }),
        }, json);
    }
    catch (TimeoutException e)
    {
        return Results.Json(new { timeout = true, error = e.Message, elapsedMs = sw.ElapsedMilliseconds }, json);
    }
});
app.MapGet("/ctl/join", async (HttpContext c) =>
{
    await Select(c).SocketsJoinAsync(Q(c, "rooms").Split(','));
    return Results.Json(new { ok = true }, json);
});
app.MapGet("/ctl/leave", async (HttpContext c) =>
{
    await Select(c).SocketsLeaveAsync(Q(c, "rooms").Split(','));
    return Results.Json(new { ok = true }, json);
});
app.MapGet("/ctl/disconnect", async (HttpContext c) =>
{
    await Select(c).DisconnectSocketsAsync(Q(c, "close") == "1");
    return Results.Json(new { ok = true }, json);
});
app.MapGet("/ctl/sse", async (HttpContext c) =>
{
    var sw = Stopwatch.StartNew();
    try
    {
        var responses = await Select(c).ServerSideEmitWithAckAsync("hello", nodeName);
        return Results.Json(new { responses, elapsedMs = sw.ElapsedMilliseconds }, json);
    }
    catch (SocketIOServerSideEmitTimeoutException e)
    {
        return Results.Json(new { timeout = true, responses = e.Responses, expected = e.Expected, elapsedMs = sw.ElapsedMilliseconds }, json);
    }
});
app.MapGet("/ctl/count", async () => Results.Json(new { servers = await io.ServerCountAsync() }, json));
app.MapGet("/ctl/metrics", () => Results.Json(counters.ToDictionary(p => p.Key, p => p.Value), json));

// Cross-node delivery measurement: a client on another node has joined `room` and acks each "tick".
app.MapGet("/ctl/bench", async (HttpContext c) =>
{
    int count = int.Parse(Q(c, "count", "1000"));
    var op = Select(c);
    int perSecond = int.Parse(Q(c, "perSecond", "0")); // 0: as fast as possible
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < count; i++)
    {
        if (perSecond > 0 && i * 1000.0 / perSecond > sw.Elapsed.TotalMilliseconds)
            await Task.Delay(TimeSpan.FromMilliseconds(i * 1000.0 / perSecond - sw.Elapsed.TotalMilliseconds));
        await op.EmitAsync("tick", i, Stopwatch.GetTimestamp());
    }
    return Results.Json(new { sent = count, elapsedMs = sw.Elapsed.TotalMilliseconds }, json);
});

app.MapSocketIO("/socket.io");
await app.StartAsync();
await io.AdaptersReady.WaitAsync(TimeSpan.FromSeconds(30));
var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
    .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine($"listening {address} node {nodeName}");
await app.WaitForShutdownAsync();
await io.CloseAsync();
