using System.Net;
using System.Runtime;
using System.Text.Json;
using Duplex.Server;
using Duplex.Server.Transport;
using Duplex.SocketIO;

// usage: DuplexSocketIOServer --port 18700 [--mode duplex|aspnet] [--debug]
// The Socket.IO bench's handlers (bench/socketio/node-server.js has the same), WebSocket transport only:
//   "echo": with an ack id, acknowledged with the same argument (bytes stay bytes); without, emitted back as "echo".
//   "join": joins the room named by the argument, then acks.
//   "bcast": emitted to everyone in room "r".
// --mode duplex (default): `duplex serve`'s configuration: Duplex's socket transport, event-loop I/O
//   (socket completions inline), the connection fast path; run it on workstation GC (DOTNET_gcServer=0).
// --mode aspnet: ASP.NET Core's defaults: WebApplication.CreateBuilder, Kestrel's socket transport,
//   thread-pool scheduling, server GC.
// Both clear logging (as bench/AspNetCoreEcho does). --debug adds GET /debug/gc, for profiling and for
// bench/socketio/loadgen.js --alloc-url (bytes allocated per message): allocation and heap figures, and
// first-chance exceptions counted by type and throw site.
int port = 18700;
string mode = "duplex";
bool debug = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--port" && i + 1 < args.Length) port = int.Parse(args[++i]);
    else if (args[i] == "--mode" && i + 1 < args.Length) mode = args[++i];
    else if (args[i] == "--debug") debug = true;
    else { Console.Error.WriteLine($"unknown argument {args[i]}"); return 1; }
}
if (mode is not ("duplex" or "aspnet")) { Console.Error.WriteLine("--mode is duplex or aspnet"); return 1; }
bool fast = mode == "duplex";
if (fast && GCSettings.IsServerGC)
    Console.Error.WriteLine("note: --mode duplex is meant to run on workstation GC, as `duplex serve` does: set DOTNET_gcServer=0");

WebApplicationBuilder builder;
if (fast)
{
    // Read once, when the first socket is made: this is before it (as `duplex serve --io loop`).
    const string inline = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    if (Environment.GetEnvironmentVariable(inline) is null) Environment.SetEnvironmentVariable(inline, "1");
    builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseDuplexSockets();
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, listen => listen.UseDuplexFastPath()));
}
else
{
    builder = WebApplication.CreateBuilder();
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
}
builder.Logging.ClearProviders();
builder.Services.AddDuplex();
var app = builder.Build();

var io = new SocketIOServer(new SocketIOOptions { Transports = ["websocket"] }, app.Services.GetService<ILoggerFactory>());
io.OnConnection(socket =>
{
    socket.On("echo", e =>
    {
        object? arg = e.Args.Count == 0 ? null : e.Args.Attachments.Count > 0 ? e.Args.GetBytes(0) : e.Args[0];
        return e.HasAck ? e.AckAsync(arg) : socket.EmitAsync("echo", arg);
    });
    socket.On("join", e =>
    {
        if (e.Args.Count > 0 && e.Args[0].ValueKind == JsonValueKind.String) socket.Join(e.Args[0].GetString()!);
        return e.AckAsync();
    });
    socket.On("bcast", async e => await io.To("r").EmitAsync("bcast", e.Args.Count > 0 ? e.Args[0] : null));
});
app.MapSocketIO(io, "/socket.io");

var exceptions = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
var exceptionStacks = new System.Collections.Concurrent.ConcurrentDictionary<string, string>();
if (debug)
{
    // First-chance exceptions by type and throw site: a server that throws per connection or message pays for it.
    AppDomain.CurrentDomain.FirstChanceException += (_, e) =>
    {
        var site = e.Exception.TargetSite is { } m ? $"{m.DeclaringType?.FullName}.{m.Name}" : "?";
        var key = $"{e.Exception.GetType().Name} at {site}: {e.Exception.Message}";
        if (exceptions.AddOrUpdate(key, 1, (_, n) => n + 1) == 1) exceptionStacks.TryAdd(key, Environment.StackTrace);
    };
    // ?collect=1: a full, compacting collection first, so "heap" is what is live.
    app.MapGet("/debug/gc", (HttpContext context) =>
    {
        bool collect = context.Request.Query.ContainsKey("collect");
        if (collect) { GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce; GC.Collect(2, GCCollectionMode.Forced, true, true); GC.WaitForPendingFinalizers(); GC.Collect(); }
        return Results.Json(new
        {
            allocated = GC.GetTotalAllocatedBytes(false),
            heap = GC.GetTotalMemory(false),
            gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2),
            serverGC = GCSettings.IsServerGC,
            sockets = io.Engine.ClientsCount,
            exceptions,
            exceptionStacks = context.Request.Query.ContainsKey("stacks") ? exceptionStacks : null,
        });
    });
}

app.Lifetime.ApplicationStarted.Register(() =>
    Console.WriteLine($"Duplex.SocketIO on 127.0.0.1:{port} (--mode {mode}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC)"));
await app.RunAsync();
return 0;
