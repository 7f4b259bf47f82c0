using Duplex.SocketIO.EngineIO;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// An Engine.IO session that closes while a namespace CONNECT is being admitted must not leave the new
/// socket behind: the close handler's snapshot of the sockets and the admission race, so each window is
/// hit on purpose by closing the engine from the connection's test hook.
/// </summary>
public sealed class ConnectCloseRaceTests
{
    private static (SocketIOServer Io, EngineIOSession Engine, SocketIOConnection Connection) Create()
    {
        var io = new SocketIOServer();
        var engine = new EngineIOSession(io.Engine, "engine-1", new DefaultHttpContext(), socket: null);
        return (io, engine, new SocketIOConnection(io, engine));
    }

    [Fact]
    public Task Engine_closed_just_before_the_socket_is_published_leaves_no_socket_behind() =>
        CloseAtAsync(SocketIOConnection.ConnectStep.Publishing);

    [Fact]
    public Task Engine_closed_just_after_the_socket_is_published_leaves_no_socket_behind() =>
        CloseAtAsync(SocketIOConnection.ConnectStep.Published);

    private static async Task CloseAtAsync(SocketIOConnection.ConnectStep step)
    {
        var (io, engine, connection) = Create();
        SocketIOSocket? admitted = null;
        var disconnects = new List<string>();
        bool handlerRan = false;
        io.Use(socket => { admitted = socket; socket.OnDisconnect(disconnects.Add); });
        io.OnConnection(_ => handlerRan = true);
        connection.ConnectStepHook = s => { if (s == step) engine.Close(); };

        await connection.ConnectAsync("/", null).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.False(engine.IsOpen);
        Assert.NotNull(admitted);
        Assert.Empty(io.Sockets.Sockets);
        Assert.DoesNotContain(admitted!.Id, io.Sockets.Adapter.Rooms);
        Assert.Empty(admitted.Rooms);
        Assert.False(admitted.Connected);
        // As the reference does when the transport is gone once middleware has run: the socket is
        // cleaned up without ever having connected, so neither "connection" nor "disconnect" fires.
        Assert.False(handlerRan);
        Assert.Empty(disconnects);
    }

    [Fact]
    public async Task Socket_admitted_on_an_open_engine_is_in_the_namespace_until_the_engine_closes()
    {
        var (io, engine, connection) = Create();
        await connection.ConnectAsync("/", null).WaitAsync(TimeSpan.FromSeconds(5));
        var socket = Assert.Single(io.Sockets.Sockets).Value;
        Assert.True(socket.Connected);
        engine.Close();
        Assert.Empty(io.Sockets.Sockets);
        Assert.False(socket.Connected);
    }
}
