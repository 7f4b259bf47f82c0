// The server the official protocol test suites expect (github:socketio/engine.io-protocol and
// github:socketio/socket.io-protocol, test-suite/), configured as their READMEs give it:
//   dotnet run --project examples/ProtocolSuiteHost -- engine.io [--port 3000]
//   dotnet run --project examples/ProtocolSuiteHost -- socket.io [--port 3000]
// --fast-path serves the listener with UseDuplexFastPath(), as `duplex serve` does.
// then `npm test` in the suite's test-suite/ directory.
using System.Net;
using Duplex.Server;
using System.Text.Json;
using Duplex.SocketIO;
using Duplex.SocketIO.EngineIO;

string mode = args.Length > 0 ? args[0] : "";
int port = 3000;
for (int i = 1; i + 1 < args.Length; i++)
    if (args[i] == "--port") port = int.Parse(args[i + 1]);
bool fastPath = args.Contains("--fast-path");
if (mode is not ("engine.io" or "socket.io"))
{
    Console.Error.WriteLine("usage: ProtocolSuiteHost engine.io|socket.io [--port 3000] [--fast-path]");
    return 1;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, listen =>
{
    if (fastPath) listen.UseDuplexFastPath();
}));
var app = builder.Build();

if (mode == "engine.io")
{
    // listen(3000, { pingInterval: 300, pingTimeout: 200, maxPayload: 1e6, cors: { origin: "*" } })
    var engine = new EngineIOServer(new EngineIOOptions
    {
        PingInterval = TimeSpan.FromMilliseconds(300),
        PingTimeout = TimeSpan.FromMilliseconds(200),
        MaxHttpBufferSize = 1_000_000,
        Cors = new EngineIOCorsOptions(),
    });
    // Every message comes back as it came: text as text, binary as binary.
    engine.Connection += session => session.Message += (s, packet) => s.Send(packet);
    app.MapEngineIO(engine, "/engine.io");
}
else
{
    var io = new SocketIOServer(new SocketIOOptions
    {
        PingInterval = TimeSpan.FromMilliseconds(300),
        PingTimeout = TimeSpan.FromMilliseconds(200),
        MaxHttpBufferSize = 1_000_000,
        ConnectTimeout = TimeSpan.FromMilliseconds(1000),
        Cors = new EngineIOCorsOptions(),
    });
    io.OnConnection(socket =>
    {
        socket.EmitAsync("auth", AuthOf(socket));
        socket.On("message", e => socket.EmitAsync("message-back", Resolve(e.Args)));
        socket.On("message-with-ack", e => e.AckAsync(Resolve(e.Args)));
    });
    io.Of("/custom").OnConnection(socket => socket.EmitAsync("auth", AuthOf(socket)));
    app.MapSocketIO(io, "/socket.io");
}

app.Run();
return 0;

// The reference's handshake.auth is {} when the client sent none.
static object AuthOf(SocketIOSocket socket) => (object?)socket.Handshake.Auth ?? new Dictionary<string, object?>();

// The arguments as they came, binary placeholders turned back into bytes, so they go out again as attachments.
static object?[] Resolve(SocketIOArgs args) => args.Select(a => Value(a, args.Attachments)).ToArray();

static object? Value(JsonElement element, IReadOnlyList<byte[]> attachments)
{
    switch (element.ValueKind)
    {
        case JsonValueKind.Object:
            if (element.TryGetProperty("_placeholder", out var p) && p.ValueKind == JsonValueKind.True &&
                element.TryGetProperty("num", out var num) && num.TryGetInt32(out int n) && n >= 0 && n < attachments.Count)
                return attachments[n];
            return element.EnumerateObject().ToDictionary(o => o.Name, o => Value(o.Value, attachments));
        case JsonValueKind.Array:
            return element.EnumerateArray().Select(i => Value(i, attachments)).ToList();
        default:
            return element;
    }
}
