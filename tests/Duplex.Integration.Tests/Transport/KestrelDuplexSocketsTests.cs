using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Integration.Tests.Transport;

/// <summary>Kestrel on the Duplex socket transport (UseDuplexSockets), driven by HttpClient.</summary>
public class KestrelDuplexSocketsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Keeps what is logged at Warning or above (Kestrel reports connections that end abnormally so).</summary>
    private sealed class WarningCollector : ILoggerProvider
    {
        public ConcurrentQueue<string> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(WarningCollector owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) owner.Entries.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
            }
        }
    }

    /// <summary>
    /// A WebApplication on UseDuplexSockets. <see cref="ConnectionTypes"/> records the ConnectionContext type of each
    /// connection Kestrel hands its connection middleware, <see cref="EndedConnections"/> counts those whose pipeline returned.
    /// </summary>
    private sealed class App : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly StrongBox<int> _ended;

        private App(WebApplication app, Uri baseUri, ConcurrentQueue<string> connectionTypes, StrongBox<int> ended, WarningCollector warnings)
        {
            _app = app;
            BaseUri = baseUri;
            ConnectionTypes = connectionTypes;
            _ended = ended;
            Warnings = warnings.Entries;
        }

        public Uri BaseUri { get; }

        public ConcurrentQueue<string> ConnectionTypes { get; }

        public int EndedConnections => Volatile.Read(ref _ended.Value);

        public ConcurrentQueue<string> Warnings { get; }

        public IServiceProvider Services => _app.Services;

        public static async Task<App> StartAsync(Action<WebApplication> map)
        {
            var types = new ConcurrentQueue<string>();
            var ended = new StrongBox<int>();
            var warnings = new WarningCollector();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddProvider(warnings);
            builder.WebHost.UseDuplexSockets();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => async connection =>
            {
                types.Enqueue(connection.GetType().FullName ?? "");
                try
                {
                    await next(connection);
                }
                finally
                {
                    Interlocked.Increment(ref ended.Value);
                }
            })));
            var app = builder.Build();
            map(app);
            await app.StartAsync().WaitAsync(Timeout);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new App(app, new Uri(address), types, ended, warnings);
        }

        /// <summary>Waits (bounded) until Kestrel is done with every connection it accepted.</summary>
        public async Task WaitForConnectionsToEndAsync()
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (EndedConnections < ConnectionTypes.Count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{ConnectionTypes.Count - EndedConnections} connection(s) never ended after the client closed");
                await Task.Delay(20);
            }
        }

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(Timeout);
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }
    }

    private static void AssertAllOurs(App app)
    {
        Assert.NotEmpty(app.ConnectionTypes);
        Assert.All(app.ConnectionTypes, t => Assert.StartsWith("Duplex.Server.Transport.", t));
    }

    [Fact]
    public async Task Kestrel_serves_a_GET_and_echoes_a_1_MiB_POST_over_the_Duplex_transport()
    {
        await using var app = await App.StartAsync(a =>
        {
            a.MapGet("/", (HttpContext ctx) => $"hello {ctx.Connection.RemoteIpAddress} {ctx.Connection.LocalPort}");
            a.MapPost("/echo", async ctx => await ctx.Request.Body.CopyToAsync(ctx.Response.Body));
        });
        Assert.Contains(app.Services.GetServices<IConnectionListenerFactory>(), f => f is DuplexSocketTransportFactory);

        using var http = new HttpClient { BaseAddress = app.BaseUri, Timeout = Timeout };
        Assert.Equal($"hello 127.0.0.1 {app.BaseUri.Port}", await http.GetStringAsync("/"));

        var body = TransportPair.RandomBytes(1024 * 1024, seed: 11);
        using var response = await http.PostAsync("/echo", new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echoed = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(body.Length, echoed.Length);
        Assert.True(body.AsSpan().SequenceEqual(echoed));

        AssertAllOurs(app);

        // The client goes away from idle keep-alive connections: Kestrel sees the end of input and finishes quietly.
        http.Dispose();
        await app.WaitForConnectionsToEndAsync();
        Assert.Empty(app.Warnings);
    }

    [Fact]
    public async Task Keep_alive_requests_share_one_connection()
    {
        await using var app = await App.StartAsync(a =>
        {
            a.MapGet("/id", (HttpContext ctx) => ctx.Connection.Id);
            a.MapPost("/id", async ctx =>
            {
                long length = 0;
                var buffer = new byte[8192];
                int n;
                while ((n = await ctx.Request.Body.ReadAsync(buffer)) > 0) length += n;
                await ctx.Response.WriteAsync($"{ctx.Connection.Id} {length}");
            });
        });
        using var http = new HttpClient { BaseAddress = app.BaseUri, Timeout = Timeout };
        var ids = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            if (i % 2 == 0)
            {
                ids.Add(await http.GetStringAsync("/id"));
            }
            else
            {
                using var response = await http.PostAsync("/id", new ByteArrayContent(new byte[100_000 + i]));
                var parts = (await response.Content.ReadAsStringAsync()).Split(' ');
                Assert.Equal((100_000 + i).ToString(), parts[1]);
                ids.Add(parts[0]);
            }
        }
        Assert.Single(ids.Distinct());
        Assert.False(string.IsNullOrEmpty(ids[0]));
        Assert.Single(app.ConnectionTypes);
        AssertAllOurs(app);

        http.Dispose();
        await app.WaitForConnectionsToEndAsync();
        Assert.Empty(app.Warnings);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_request_fires_RequestAborted()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await App.StartAsync(a => a.MapGet("/hang", async ctx =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(System.Threading.Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult();
            }
        }));
        using var http = new HttpClient { BaseAddress = app.BaseUri, Timeout = Timeout };
        using var cts = new CancellationTokenSource();
        var request = http.GetAsync("/hang", cts.Token);
        await started.Task.WaitAsync(Timeout);
        await Task.Delay(100);
        Assert.False(aborted.Task.IsCompleted);

        cts.Cancel(); // HttpClient drops the connection
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitAsync(Timeout));
        await aborted.Task.WaitAsync(Timeout);
        AssertAllOurs(app);
    }
}
