// The seed's Socket.IO chat server in C#: every "message" goes to everyone; "join-room" joins the
// room and tells the others in it "user-joined". Usage: dotnet run --project examples/SocketIOChat [port]
using Duplex.SocketIO;

int port = args.Length > 0 ? int.Parse(args[0]) : 3000;
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls($"http://localhost:{port}");
builder.Services.AddSocketIO(o => o.Cors = new() { Origins = ["*"] }); // cors: { origin: '*' }
var app = builder.Build();

app.MapSocketIO("/socket.io", io => io.OnConnection(socket =>
{
    socket.On("message", async e => await io.EmitAsync("message", e.Args[0]));
    socket.On<string>("join-room", async room =>
    {
        socket.Join(room!);
        await socket.To(room!).EmitAsync("user-joined", socket.Id);
    });
}));

app.Run();
