// The seed's client: connects, sends "Hello Server!", prints the reply, closes.
// Usage: dotnet run --project examples/EchoClient [ws://localhost:8080]
using Duplex;

var uri = new Uri(args.Length > 0 ? args[0] : "ws://localhost:8080");
await using var socket = await WebSocketClient.ConnectAsync(uri);
Console.WriteLine("Connected to server");

await socket.SendTextAsync("Hello Server!");
await foreach (var message in socket.ReadMessagesAsync())
{
    Console.WriteLine($"Received: {message.Text}");
    break;
}
await socket.CloseAsync();
Console.WriteLine("Disconnected from server");
