// The seed's Node `ws` echo server, in C#: replies "Echo: <message>" and sends "Ping: <unix ms>"
// every 30 seconds. Usage: dotnet run --project examples/EchoServer [port]
using Duplex;
using Duplex.Server;

int port = args.Length > 0 ? int.Parse(args[0]) : 8080;
await using var server = new WebSocketServer(new WebSocketServerOptions { Port = port });

server.OnConnection(async socket =>
{
    Console.WriteLine("Client connected");
    using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(30));
    var pinging = Task.Run(async () =>
    {
        while (await ticker.WaitForNextTickAsync())
            await socket.SendTextAsync($"Ping: {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
    });

    await foreach (var message in socket.ReadMessagesAsync())
    {
        Console.WriteLine($"Received: {message.Text}");
        await socket.SendTextAsync($"Echo: {message.Text}");
    }

    ticker.Dispose();
    await pinging.ContinueWith(_ => { }); // ends when the timer is disposed
    Console.WriteLine("Client disconnected");
});

await server.StartAsync();
Console.WriteLine($"WebSocket server listening on ws://localhost:{server.Port}");
var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
await stop.Task;
