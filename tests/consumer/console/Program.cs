// The consumer test's console app (scripts/consumer-test.sh, scripts/aot-smoke.sh): a fresh
// `dotnet new console` project with only the Duplex.SocketIO.Client package (which brings Duplex),
// this file copied over its Program.cs. No ASP.NET Core.
//
//   ConsumerClient <http://host:port> [--ack]
//
// 1. WebSocketClient on ws://host:port/echo: a text and a binary message must come back unchanged.
// 2. SocketIOClient on /socket.io/, over WebSocket only and over polling upgraded to WebSocket: a
//    "message" emitted must come back as the server's broadcast "message"; with --ack the server must
//    also acknowledge it with the same argument.
// Exit status 0 when every round trip returned exactly what was sent, 1 otherwise, 2 on usage, 3 when
// the whole run took longer than 30 s.
using System.Text;
using Duplex;
using Duplex.SocketIO.Client;

if (args.Length < 1 || !Uri.TryCreate(args[0], UriKind.Absolute, out var baseUri) || baseUri.Scheme != "http")
{
    Console.Error.WriteLine("usage: ConsumerClient <http://host:port> [--ack]");
    return 2;
}
bool ack = args.Contains("--ack");
var limit = TimeSpan.FromSeconds(30);
using var cancel = new CancellationTokenSource(limit);
// A backstop in case something ignores the token.
_ = Task.Delay(limit + TimeSpan.FromSeconds(5)).ContinueWith(_ =>
{
    Console.Error.WriteLine($"FAIL: gave up after {limit.TotalSeconds + 5:0} s");
    Environment.Exit(3);
}, TaskScheduler.Default);

int failures = 0;
string stage = "start";
void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    if (!ok) failures++;
}

try
{
    // 1. WebSocket echo.
    var echoUri = new UriBuilder(baseUri) { Scheme = "ws", Path = "/echo" }.Uri;
    stage = $"websocket {echoUri}: echo";
    await using (var socket = await WebSocketClient.ConnectAsync(echoUri, cancellationToken: cancel.Token))
    {
        string text = $"consumer héllo ✓ {Guid.NewGuid():N}";
        byte[] binary = new byte[70_000]; // past the 16-bit length encoding
        Random.Shared.NextBytes(binary);

        await socket.SendTextAsync(text, cancel.Token);
        await socket.SendBinaryAsync(binary, cancel.Token);
        var received = new List<(bool IsText, string Text, byte[] Data)>();
        await foreach (var message in socket.ReadMessagesAsync(cancel.Token))
        {
            received.Add((message.IsText, message.IsText ? message.Text : "", message.ToArray()));
            if (received.Count == 2) break;
        }
        Check(received.Count == 2 && received[0].IsText && received[0].Text == text,
            $"websocket {echoUri}: text echoed ({Encoding.UTF8.GetByteCount(text)} bytes)");
        Check(received.Count == 2 && !received[1].IsText && received[1].Data.AsSpan().SequenceEqual(binary),
            $"websocket {echoUri}: binary echoed ({binary.Length} bytes)");
        await socket.CloseAsync(cancellationToken: cancel.Token);
        Check(socket.CloseStatus == Duplex.Protocol.CloseStatus.NormalClosure, $"websocket {echoUri}: closed with 1000 ({(int?)socket.CloseStatus})");
    }

    // 2. Socket.IO, both ways of connecting.
    foreach (var transports in new[] { new[] { "websocket" }, new[] { "polling", "websocket" } })
    {
        string how = string.Join("+", transports);
        var options = new SocketIOClientOptions { Transports = transports.ToList(), Reconnection = false };
        await using var client = new SocketIOClient(baseUri, options);
        string payload = $"consumer {how} ✓ {Guid.NewGuid():N}";
        var broadcast = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.On<string>("message", text => broadcast.TrySetResult(text)); // the first one must be ours
        stage = $"socket.io {how}: connecting";
        await client.ConnectAsync(cancel.Token);
        Check(client.IsConnected && client.Id is not null, $"socket.io {how}: connected (id {client.Id}, transport {client.Transport})");
        if (transports.Length > 1)
        {
            stage = $"socket.io {how}: waiting for the upgrade";
            bool upgraded = client.Transport == "websocket" || await client.WaitForUpgradeAsync(cancel.Token);
            Check(upgraded && client.Transport == "websocket", $"socket.io {how}: upgraded to {client.Transport}");
        }
        if (ack)
        {
            stage = $"socket.io {how}: waiting for the ack of \"message\"";
            var reply = await client.Timeout(TimeSpan.FromSeconds(10)).EmitWithAckAsync<string>("message", [payload], cancel.Token);
            Check(reply == payload, $"socket.io {how}: \"message\" acknowledged with what was sent");
        }
        else
        {
            await client.EmitAsync("message", payload);
        }
        stage = $"socket.io {how}: waiting for the broadcast \"message\"";
        var back = await broadcast.Task.WaitAsync(TimeSpan.FromSeconds(10), cancel.Token);
        Check(back == payload, $"socket.io {how}: \"message\" broadcast back unchanged{(back == payload ? "" : $" (got {back})")}");
        await client.DisconnectAsync(cancel.Token);
    }
}
catch (Exception ex)
{
    Console.Error.WriteLine($"FAIL: {stage}: {ex.GetType().Name}: {ex.Message}");
    return 1;
}

if (failures > 0)
{
    Console.Error.WriteLine($"FAIL: {failures} check(s) failed");
    return 1;
}
Console.WriteLine("consumer client: every round trip returned what was sent");
return 0;
