using System.Collections.Concurrent;
using System.Net;
using Duplex.SocketIO.Adapters;
using Duplex.SocketIO.Redis.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>Connection state recovery (in-memory adapter) against the npm socket.io-client's own recovery.</summary>
public class RecoveryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private sealed class Server : IAsyncDisposable
    {
        public required WebApplication App { get; init; }
        public required SocketIOServer IO { get; init; }
        public required string Url { get; init; }
        public int MiddlewareRuns;
        public readonly ConcurrentQueue<SocketIOSocket> Connected = new();
        public readonly ConcurrentQueue<(string Id, string Reason)> Disconnected = new();

        public static async Task<Server> StartAsync(ConnectionStateRecoveryOptions? recovery)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddSocketIO();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            Server? server = null;
            app.MapSocketIO("/socket.io", io =>
            {
                io.ConnectionStateRecovery = recovery;
                io.Use(_ => Interlocked.Increment(ref server!.MiddlewareRuns));
                io.OnConnection(socket =>
                {
                    if (!socket.Recovered) socket.Data["first-seen"] = socket.Id;
                    socket.On("join", async e =>
                    {
                        socket.Join(e.Args.Get<string>(0)!);
                        await e.AckAsync("ok");
                    });
                    socket.OnDisconnect(reason => server!.Disconnected.Enqueue((socket.Id, reason)));
                    server!.Connected.Enqueue(socket);
                });
            });
            await app.StartAsync();
            var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server = new Server { App = app, IO = app.Services.GetRequiredService<SocketIOServer>(), Url = url };
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await App.StopAsync(timeout.Token);
            await App.DisposeAsync();
        }
    }

    private static async Task<(ChildProcess Client, SocketIOSocket Socket)> ConnectAndDropAsync(Server server)
    {
        Peers.RequireNodeModules();
        var client = ChildProcess.Start("node", Peers.NodeDirectory, "recovery.js", server.Url);
        var connected = await client.WaitForStepAsync("connected", timeout: Wait);
        Assert.False(connected.GetProperty("recovered").GetBoolean());
        await client.WaitForStepAsync("joined", timeout: Wait);
        var socket = server.Connected.Single();
        Assert.Equal(connected.GetProperty("id").GetString(), socket.Id);

        await server.IO.To("r").EmitAsync("before", 1);
        var before = await client.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "before", Wait);
        Assert.Equal(JsonValueKindString, before.GetProperty("args")[1].ValueKind); // the offset, appended

        await client.WriteLineAsync("close");
        await client.WaitForStepAsync("closed", timeout: Wait); // the client calls it "forced close"; the server sees the transport go
        await DuplexClusterTests.WaitUntilAsync(() => Task.FromResult(server.Disconnected.Any(d => d.Id == socket.Id)));
        Assert.Equal("transport close", server.Disconnected.Single().Reason);
        return (client, socket);
    }

    private const System.Text.Json.JsonValueKind JsonValueKindString = System.Text.Json.JsonValueKind.String;

    [Fact]
    public async Task A_client_back_within_the_window_gets_its_id_rooms_data_and_the_packets_it_missed()
    {
        await using var server = await Server.StartAsync(new ConnectionStateRecoveryOptions());
        var (client, first) = await ConnectAndDropAsync(server);
        await using var _ = client;

        // Sent while the client is away: to its room, to it directly, and to a room it is not in.
        await server.IO.To("r").EmitAsync("missed-room", 2);
        await first.EmitAsync("missed-direct", 3);
        await server.IO.To("elsewhere").EmitAsync("not-for-you", 4);
        await server.IO.Except("r").EmitAsync("not-for-you", 5);

        await client.WriteLineAsync("reconnect");
        var again = await client.WaitForStepAsync("connected", timeout: Wait);
        Assert.True(again.GetProperty("recovered").GetBoolean());
        Assert.Equal(first.Id, again.GetProperty("id").GetString());

        var second = server.Connected.Last();
        Assert.NotSame(first, second);
        Assert.True(second.Recovered);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(first.Id, second.Data["first-seen"]);
        Assert.Contains("r", second.Rooms);
        Assert.Equal(1, server.MiddlewareRuns); // skipMiddlewares

        // Rooms are back: a new broadcast to r arrives after the missed ones, in order.
        await server.IO.To("r").EmitAsync("after", 6);
        var events = new List<(string Name, int Value)>();
        await client.WaitForLineAsync(line =>
        {
            if (!line.Contains("\"step\":\"event\"")) return false;
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            var name = doc.RootElement.GetProperty("event").GetString()!;
            events.Add((name, doc.RootElement.GetProperty("args")[0].GetInt32()));
            return name == "after";
        }, Wait);
        Assert.Equal([("missed-room", 2), ("missed-direct", 3), ("after", 6)], events);
    }

    [Fact]
    public async Task A_client_back_after_the_window_connects_afresh_through_the_middleware()
    {
        await using var server = await Server.StartAsync(new ConnectionStateRecoveryOptions { MaxDisconnectionDuration = TimeSpan.FromMilliseconds(300) });
        var (client, first) = await ConnectAndDropAsync(server);
        await using var _ = client;
        await server.IO.To("r").EmitAsync("missed-room", 2);
        await Task.Delay(TimeSpan.FromSeconds(1));

        await client.WriteLineAsync("reconnect");
        var again = await client.WaitForStepAsync("connected", timeout: Wait);
        Assert.False(again.GetProperty("recovered").GetBoolean());
        Assert.NotEqual(first.Id, again.GetProperty("id").GetString());
        Assert.Equal(2, server.MiddlewareRuns);
        var second = server.Connected.Last();
        Assert.False(second.Recovered);
        Assert.Equal(second.Id, second.Data["first-seen"]); // fresh data, not the old session's
    }

    [Fact]
    public async Task Without_recovery_events_carry_no_offset_and_no_pid_is_offered()
    {
        await using var server = await Server.StartAsync(null);
        Peers.RequireNodeModules();
        await using var client = ChildProcess.Start("node", Peers.NodeDirectory, "recovery.js", server.Url);
        await client.WaitForStepAsync("joined", timeout: Wait);
        await server.IO.To("r").EmitAsync("plain", 1);
        var plain = await client.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "plain", Wait);
        Assert.Equal(1, plain.GetProperty("args").GetArrayLength());
        await client.WriteLineAsync("close");
        await client.WaitForStepAsync("closed", timeout: Wait);
        await client.WriteLineAsync("reconnect");
        var again = await client.WaitForStepAsync("connected", timeout: Wait);
        Assert.False(again.GetProperty("recovered").GetBoolean());
    }
}
