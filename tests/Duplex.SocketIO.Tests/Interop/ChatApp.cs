using System.Collections.Concurrent;
using System.Text.Json;

namespace Duplex.SocketIO.Tests.Interop;

public sealed record AddRequest(int A, int B);

public sealed record Upload(string Name, byte[] Payload);

/// <summary>The server side the node scenarios talk to, recording what it saw.</summary>
public sealed class ChatApp
{
    public ConcurrentQueue<string> Disconnects { get; } = new();
    public TaskCompletionSource<string> FirstDisconnect { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public ConcurrentQueue<string> Transports { get; } = new();

    public void Configure(SocketIOServer io)
    {
        io.OnConnection(socket =>
        {
            Transports.Enqueue(socket.Engine.Transport);
            socket.OnDisconnect(reason =>
            {
                Disconnects.Enqueue(reason);
                FirstDisconnect.TrySetResult(reason);
            });
            socket.On("echo", e => e.AckAsync(e.Args.Count > 0 ? e.Args[0] : null));
            socket.On<AddRequest, int>("add", r => r!.A + r.B);
            socket.On("join-room", e =>
            {
                socket.Join(e.Args.Get<string>(0)!);
                return e.AckAsync();
            });
            socket.On("say", async e =>
            {
                await socket.To(e.Args.Get<string>(0)!).EmitAsync("user-said", socket.Id, e.Args.Get<string>(1));
                await e.AckAsync();
            });
            socket.On("shout", async e =>
            {
                await io.EmitAsync("announce", e.Args.Get<string>(0));
                await e.AckAsync();
            });
            socket.On("others", async e =>
            {
                await socket.Broadcast.EmitAsync("from-other", e.Args.Get<string>(0));
                await e.AckAsync();
            });
            socket.On("upload", async e =>
            {
                var bytes = e.Args.GetBytes(0)!;
                var upload = e.Args.Get<Upload>(1)!;
                await e.AckAsync(new { length = bytes.Length, reversed = bytes.Reverse().ToArray(), nested = upload.Payload });
                await socket.EmitAsync("server-binary", new byte[] { 9, 8, 7 }, new Upload("srv", [0, 1, 2]));
            });
            socket.On("kick-me", _ => socket.Disconnect());
            socket.On("room-size", e => e.AckAsync(io.Sockets.Adapter.RoomSize(e.Args.Get<string>(0)!)));
        });
    }
}
