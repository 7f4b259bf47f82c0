using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;

// usage: AspNetCoreEcho [--port 8081] [--compression] [--inline]
// /echo: every message back, same type, through one pooled buffer per connection (fragments are
// relayed as they arrive, so a message of any size needs no more than the buffer).
// /broadcast: every message to every connection on /broadcast, one send lock per connection,
// since a WebSocket allows one send at a time.
// --inline: the scheduling `duplex serve` uses by default (socket completions inline on the event
// threads, Kestrel's pipes inline), to tell what scheduling does from what the engine does.
int port = 8081;
bool compression = false;
bool inline = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--port" && i + 1 < args.Length) port = int.Parse(args[++i]);
    else if (args[i] == "--compression") compression = true;
    else if (args[i] == "--inline") inline = true;
}
if (inline) Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

var builder = WebApplication.CreateSlimBuilder();
if (inline) builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
var app = builder.Build();
// Keep-alive as Duplex's default (30 s); the receive buffer is our own, pooled.
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });

var acceptContext = new WebSocketAcceptContext { DangerousEnableCompression = compression };
var members = new ConcurrentDictionary<long, Member>();
long nextId = 0;

app.Map("/echo", async context =>
{
    if (!context.WebSockets.IsWebSocketRequest) { context.Response.StatusCode = 400; return; }
    using var socket = await context.WebSockets.AcceptWebSocketAsync(acceptContext);
    var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    try
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                break;
            }
            await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
        }
    }
    catch (WebSocketException) { }
    finally
    {
        ArrayPool<byte>.Shared.Return(buffer);
    }
});

app.Map("/broadcast", async context =>
{
    if (!context.WebSockets.IsWebSocketRequest) { context.Response.StatusCode = 400; return; }
    using var socket = await context.WebSockets.AcceptWebSocketAsync(acceptContext);
    var me = new Member(socket);
    long id = Interlocked.Increment(ref nextId);
    members[id] = me;
    var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    try
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                members.TryRemove(id, out _);
                await me.Lock.WaitAsync();
                try { await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None); }
                finally { me.Lock.Release(); }
                break;
            }
            // Whole messages only: broadcast payloads are small; a larger one is not relayed in parts.
            if (!result.EndOfMessage) continue;
            var payload = buffer.AsMemory(0, result.Count);
            foreach (var member in members.Values)
            {
                await member.Lock.WaitAsync();
                try
                {
                    if (member.Socket.State == WebSocketState.Open)
                        await member.Socket.SendAsync(payload, result.MessageType, true, CancellationToken.None);
                }
                catch (WebSocketException) { }
                finally { member.Lock.Release(); }
            }
        }
    }
    catch (WebSocketException) { }
    finally
    {
        members.TryRemove(id, out _);
        ArrayPool<byte>.Shared.Return(buffer);
    }
});

Console.WriteLine($"AspNetCoreEcho listening on http://127.0.0.1:{port} (/echo, /broadcast){(compression ? " with permessage-deflate" : "")}");
await app.RunAsync();

sealed record Member(WebSocket Socket)
{
    public SemaphoreSlim Lock { get; } = new(1, 1);
}
