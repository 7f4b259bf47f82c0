// The consumer test's web app (scripts/consumer-test.sh): a fresh `dotnet new web` project with the
// Duplex.Server and Duplex.SocketIO packages from the local feed, this file copied over its Program.cs.
// /echo sends every message back, same type; /socket.io/ re-emits every "message" to everyone (the
// seed's chat) and, when the client asked for an acknowledgement, answers it with the same arguments.
using Duplex.Server;
using Duplex.SocketIO;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddDuplex();
builder.Services.AddSocketIO();
var app = builder.Build();

app.MapGet("/", () => "consumer web app: /echo, /socket.io/");

app.MapWebSocket("/echo", async connection =>
{
    await foreach (var message in connection.ReadMessagesAsync())
        await connection.SendAsync(message);
});

app.MapSocketIO("/socket.io", io => io.OnConnection(socket =>
{
    socket.On("message", async e =>
    {
        var args = e.Args.Select(a => (object?)a).ToArray();
        await io.EmitAsync("message", args);
        await e.AckAsync(args); // does nothing when the client asked for no ack
    });
}));

app.Run();
