using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Duplex.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Hosting;

namespace Duplex.Integration.Tests;

/// <summary>A WebSocketServer whose start fails releases what it bound, and a new one starts cleanly.</summary>
public class WebSocketServerStartFailureTests
{
    private static bool Accepts(IPAddress address, int port)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Connect(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<string> EchoOnceAsync(int port)
    {
        await using var client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"));
        await client.SendTextAsync("ping");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var m in client.ReadMessagesAsync(timeout.Token)) return m.Text;
        throw new InvalidOperationException("no echo");
    }

    private static Task Echo(WebSocketConnection c) => Task.Run(async () =>
    {
        await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
    });

    /// <summary>
    /// The hosts built on this test's own flow, as Microsoft.Extensions.Hosting announces them ("HostBuilt",
    /// the event WebApplicationFactory listens to): the way to see the WebApplication a server made inside.
    /// </summary>
    private sealed class BuiltHosts : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        private static readonly AsyncLocal<BuiltHosts?> Current = new();
        private readonly IDisposable _all;
        private readonly ConcurrentQueue<IDisposable> _subscriptions = new();

        public BuiltHosts()
        {
            Current.Value = this;
            _all = DiagnosticListener.AllListeners.Subscribe(this);
        }

        public ConcurrentQueue<IHost> Hosts { get; } = new();

        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == "Microsoft.Extensions.Hosting") _subscriptions.Enqueue(listener.Subscribe(this));
        }

        public void OnNext(KeyValuePair<string, object?> e)
        {
            // Other tests build hosts in parallel; only those of this flow count.
            if (e.Key == "HostBuilt" && e.Value is IHost host && ReferenceEquals(Current.Value, this)) Hosts.Enqueue(host);
        }

        public void OnCompleted() { }

        public void OnError(Exception error) { }

        public void Dispose()
        {
            _all.Dispose();
            while (_subscriptions.TryDequeue(out var s)) s.Dispose();
        }
    }

    [Fact]
    public async Task A_failed_start_disposes_the_application_it_built()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        int taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        using var built = new BuiltHosts();

        var failed = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = taken });
        failed.OnConnection(Echo);
        await Assert.ThrowsAsync<IOException>(() => failed.StartAsync());

        var host = Assert.Single(built.Hosts);
        // A disposed application's services are gone; an abandoned one's would still answer.
        Assert.Throws<ObjectDisposedException>(() => host.Services.GetService(typeof(IServer)));
    }

    [Fact]
    public async Task Start_on_a_port_in_use_throws_and_a_new_server_then_starts_on_a_free_port()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        int taken = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var failed = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = taken });
        failed.OnConnection(Echo);
        await Assert.ThrowsAsync<IOException>(() => failed.StartAsync());

        await using var fresh = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = 0 });
        fresh.OnConnection(Echo);
        await fresh.StartAsync();
        Assert.NotEqual(taken, fresh.Port);
        Assert.Equal("ping", await EchoOnceAsync(fresh.Port));
        await failed.DisposeAsync(); // nothing to stop: must not throw
    }

    [Fact]
    public async Task A_start_that_bound_IPv4_loopback_but_not_IPv6_leaves_no_listener_behind()
    {
        if (!Socket.OSSupportsIPv6) return;
        // "localhost" binds 127.0.0.1 first, then ::1: with only ::1 taken, the start fails after the
        // first address was bound.
        using var squatter = new TcpListener(IPAddress.IPv6Loopback, 0);
        try
        {
            squatter.Start();
        }
        catch (SocketException)
        {
            return; // no IPv6 loopback here
        }
        int port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        if (Accepts(IPAddress.Loopback, port)) return; // someone else has the IPv4 side; nothing to learn

        foreach (bool duplexSockets in new[] { true, false })
        {
            var failed = new WebSocketServer(new WebSocketServerOptions { Host = "localhost", Port = port, DuplexSockets = duplexSockets });
            failed.OnConnection(Echo);
            await Assert.ThrowsAsync<IOException>(() => failed.StartAsync());
            Assert.False(Accepts(IPAddress.Loopback, port), $"127.0.0.1:{port} still listens after the failed start (DuplexSockets={duplexSockets})");

            // The same address is free for a new server on IPv4.
            await using var fresh = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = port, DuplexSockets = duplexSockets });
            fresh.OnConnection(Echo);
            await fresh.StartAsync();
            Assert.Equal("ping", await EchoOnceAsync(port));
            await fresh.StopAsync();
        }
    }
}
