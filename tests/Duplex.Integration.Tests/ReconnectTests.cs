using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Duplex.Integration.Tests;

/// <summary>The reconnecting client and its send queue, against a server that goes away and comes back.</summary>
public class ReconnectTests
{
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static ReconnectOptions FastRetries() => new()
    {
        InitialDelay = TimeSpan.FromMilliseconds(50),
        MaxDelay = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>A server that records every text message it receives, in arrival order.</summary>
    private static Task<TestServer> StartCollectorAsync(int port, ConcurrentQueue<string> received, ConcurrentQueue<string>? authorizations = null) =>
        TestServer.StartAsync(app => app.MapWebSocket("/collect", async (c, ctx) =>
        {
            authorizations?.Enqueue(ctx.Request.Headers.Authorization.ToString());
            await foreach (var m in c.ReadMessagesAsync()) received.Enqueue(m.Text);
        }), port: port);

    /// <summary>A server whose /status endpoint answers every request, upgrade or not, with <paramref name="status"/>.</summary>
    private static Task<TestServer> StartRefusingAsync(int status, Action onRequest, string? retryAfter = null)
    {
        RequestDelegate refuse = ctx =>
        {
            onRequest();
            ctx.Response.StatusCode = status;
            if (retryAfter is not null) ctx.Response.Headers.RetryAfter = retryAfter;
            return Task.CompletedTask;
        };
        return TestServer.StartAsync(app => app.Map("/status", refuse));
    }

    internal static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("timed out waiting for " + what);
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Messages_sent_while_the_server_is_down_arrive_once_each_and_in_order_after_it_returns()
    {
        int port = FreePort();
        var received = new ConcurrentQueue<string>();
        var server = await StartCollectorAsync(port, received);
        var states = new ConcurrentQueue<ReconnectStateChange>();
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/collect"), FastRetries());
        int firstQueued = -1, next = 0;
        client.StateChanged += change =>
        {
            states.Enqueue(change);
            if (change.State == ReconnectState.Reconnecting && firstQueued < 0) firstQueued = Volatile.Read(ref next);
        };
        await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));

        var sends = new List<Task>();
        for (; next < 30; next++) sends.Add(client.SendTextAsync($"m{next}"));
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => received.Count >= 30, "the first 30 messages");

        // The server goes away (closing its connections with 1001) and keeps the client waiting.
        await server.DisposeAsync();
        await WaitForAsync(() => client.State == ReconnectState.Reconnecting, "the client to notice");
        for (; next < 80; next++)
        {
            sends.Add(client.SendTextAsync($"m{next}"));
            await Task.Delay(2);
        }
        Assert.True(client.QueuedCount > 0);

        server = await StartCollectorAsync(port, received);
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => received.Contains("m79"), "the last message");
        await server.DisposeAsync();

        var got = received.Select(s => int.Parse(s[1..])).ToList();
        Assert.True(firstQueued >= 30);
        // Once each and in order, and nothing sent after the outage was noticed is missing.
        Assert.Equal(got.Distinct().Count(), got.Count);
        Assert.Equal(got.OrderBy(i => i), got);
        for (int i = firstQueued; i < 80; i++) Assert.Contains(i, got);
        Assert.Contains(states, s => s.State == ReconnectState.Reconnecting && s.Delay is not null);
    }

    [Fact]
    public async Task Full_queue_fails_the_newest_send_by_default_and_drops_the_oldest_when_asked()
    {
        int port = FreePort(); // nothing listens: every attempt fails, every send queues
        var failing = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), new ReconnectOptions { InitialDelay = TimeSpan.FromSeconds(5), MaxQueuedMessages = 2 });
        _ = failing.StartAsync();
        var a = failing.SendTextAsync("a");
        var b = failing.SendTextAsync("b");
        await Assert.ThrowsAsync<SendQueueFullException>(() => failing.SendTextAsync("c"));
        Assert.False(a.IsCompleted);
        await failing.CloseAsync();
        await Assert.ThrowsAsync<WebSocketClosedException>(() => a);

        var dropping = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), new ReconnectOptions
        {
            InitialDelay = TimeSpan.FromSeconds(5), MaxQueuedMessages = 2, QueueFullPolicy = QueueFullPolicy.DropOldest,
        });
        _ = dropping.StartAsync();
        var first = dropping.SendTextAsync("1");
        var second = dropping.SendTextAsync("2");
        var third = dropping.SendTextAsync("3");
        await Assert.ThrowsAsync<SendQueueFullException>(() => first);
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, dropping.QueuedCount);
        dropping.ClearQueue();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.Equal(0, dropping.QueuedCount);
        await dropping.CloseAsync();
    }

    [Fact]
    public async Task Queued_message_past_its_time_to_live_fails_with_a_clear_exception()
    {
        int port = FreePort();
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), new ReconnectOptions
        {
            InitialDelay = TimeSpan.FromSeconds(5), MessageTimeToLive = TimeSpan.FromMilliseconds(200),
        });
        _ = client.StartAsync();
        var send = client.SendTextAsync("stale");
        await Assert.ThrowsAsync<MessageExpiredException>(() => send.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Credentials_are_produced_anew_for_every_attempt()
    {
        int port = FreePort();
        var received = new ConcurrentQueue<string>();
        var authorizations = new ConcurrentQueue<string>();
        var server = await StartCollectorAsync(port, received, authorizations);
        int issued = 0;
        var options = FastRetries();
        options.ConfigureAttempt = (attempt, _) =>
            ValueTask.FromResult(new WebSocketClientOptions().AddHeader("Authorization", $"Bearer token-{Interlocked.Increment(ref issued)}"));
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/collect"), options);
        await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await server.DisposeAsync();
        await WaitForAsync(() => client.State == ReconnectState.Reconnecting, "the client to notice");
        server = await StartCollectorAsync(port, received, authorizations);
        await WaitForAsync(() => client.State == ReconnectState.Connected && authorizations.Count == 2, "the reconnect");
        // Read before the server goes: its going makes the client try again, with a new token.
        int issuedByThen = Volatile.Read(ref issued);
        await server.DisposeAsync();
        Assert.Equal("Bearer token-1", authorizations.First());
        Assert.Equal($"Bearer token-{issuedByThen}", authorizations.Last());
        Assert.True(issuedByThen >= 2);
    }

    [Fact]
    public async Task A_normal_close_by_the_server_is_not_followed_by_a_reconnect()
    {
        int connections = 0;
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", c =>
        {
            Interlocked.Increment(ref connections);
            return c.CloseAsync(CloseStatus.NormalClosure, "done");
        }));
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/ws"), FastRetries());
        var disconnected = new TaskCompletionSource<ReconnectStateChange>();
        client.StateChanged += s => { if (s.State == ReconnectState.Disconnected) disconnected.TrySetResult(s); };
        await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var change = await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Contains("1000", change.Reason);
        await Task.Delay(500);
        Assert.Equal(1, connections);
        Assert.Equal(ReconnectState.Disconnected, client.State);
    }

    [Fact]
    public async Task First_connect_is_retried_until_the_server_appears()
    {
        int port = FreePort();
        var received = new ConcurrentQueue<string>();
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/collect"), FastRetries());
        var started = client.StartAsync();
        var queued = client.SendTextAsync("early");
        await Task.Delay(400);
        Assert.False(started.IsCompleted);
        await using var server = await StartCollectorAsync(port, received);
        await started.WaitAsync(TimeSpan.FromSeconds(20));
        await queued.WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => received.Contains("early"), "the queued message");
    }

    [Fact]
    public async Task Gives_up_after_max_attempts()
    {
        int port = FreePort();
        var options = FastRetries();
        options.MaxAttempts = 3;
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), options);
        var attempts = new ConcurrentQueue<int>();
        client.StateChanged += s => { if (s.State is ReconnectState.Connecting or ReconnectState.Reconnecting) attempts.Enqueue(s.Attempt); };
        await Assert.ThrowsAsync<WebSocketClosedException>(() => client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal([1, 2, 3], attempts.ToArray());
        Assert.Equal(ReconnectState.Disconnected, client.State);
    }

    [Fact]
    public async Task Drop_oldest_never_fails_a_message_that_was_sent()
    {
        var received = new ConcurrentQueue<string>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/collect", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) received.Enqueue(m.Text);
        }));
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/collect"), new ReconnectOptions
        {
            MaxQueuedMessages = 1, QueueFullPolicy = QueueFullPolicy.DropOldest,
        });
        await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));

        // Sends faster than the sender drains a one-message queue: drops race the sender all the time.
        var sends = new List<(string Text, Task Task)>();
        for (int i = 0; i < 3000; i++) sends.Add(($"m{i}", client.SendTextAsync($"m{i}")));
        await Task.WhenAll(sends.Select(s => s.Task.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(20));
        // Alone in the queue, so it is sent; in order, so everything sent before it has arrived with it.
        await client.SendTextAsync("end").WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => received.Contains("end"), "the last message");

        var got = received.ToHashSet();
        var dropped = sends.Where(s => s.Task.IsFaulted).ToList();
        Assert.All(dropped, s => Assert.IsType<SendQueueFullException>(s.Task.Exception!.InnerException));
        Assert.NotEmpty(dropped);
        // A task says truthfully what happened: faulted means not sent, completed means sent.
        Assert.Empty(dropped.Where(s => got.Contains(s.Text)).Select(s => s.Text));
        Assert.All(sends.Where(s => s.Task.IsCompletedSuccessfully), s => Assert.Contains(s.Text, got));
    }

    [Fact]
    public async Task Fail_policy_faults_the_new_send_and_delivers_what_was_queued()
    {
        int port = FreePort();
        var received = new ConcurrentQueue<string>();
        var options = FastRetries();
        options.MaxQueuedMessages = 2;
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/collect"), options);
        var started = client.StartAsync();
        var a = client.SendTextAsync("a");
        var b = client.SendTextAsync("b");
        await Assert.ThrowsAsync<SendQueueFullException>(() => client.SendTextAsync("c").WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, client.QueuedCount);
        await using var server = await StartCollectorAsync(port, received);
        await Task.WhenAll(started, a, b).WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => received.Count >= 2, "the queued messages");
        await Task.Delay(100);
        Assert.Equal(["a", "b"], received.ToArray());
    }

    [Fact]
    public async Task Drop_newest_drops_the_last_queued_message_to_make_room_for_the_new_one()
    {
        int port = FreePort();
        var received = new ConcurrentQueue<string>();
        var options = FastRetries();
        options.MaxQueuedMessages = 2;
        options.QueueFullPolicy = QueueFullPolicy.DropNewest;
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/collect"), options);
        var started = client.StartAsync();
        var a = client.SendTextAsync("a");
        var b = client.SendTextAsync("b");
        var c = client.SendTextAsync("c");
        await Assert.ThrowsAsync<SendQueueFullException>(() => b.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(a.IsCompleted);
        Assert.False(c.IsCompleted);
        Assert.Equal(2, client.QueuedCount);
        await using var server = await StartCollectorAsync(port, received);
        await Task.WhenAll(started, a, c).WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => received.Count >= 2, "the queued messages");
        await Task.Delay(100);
        Assert.Equal(["a", "c"], received.ToArray());
    }

    [Theory]
    [InlineData(QueueFullPolicy.Fail)]
    [InlineData(QueueFullPolicy.DropOldest)]
    [InlineData(QueueFullPolicy.DropNewest)]
    public async Task Message_larger_than_the_whole_queue_fails_alone_and_drops_nothing(QueueFullPolicy policy)
    {
        int port = FreePort();
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), new ReconnectOptions
        {
            InitialDelay = TimeSpan.FromSeconds(5), MaxQueuedBytes = 10, QueueFullPolicy = policy,
        });
        _ = client.StartAsync();
        var small = client.SendTextAsync("small");
        await Assert.ThrowsAsync<SendQueueFullException>(() => client.SendTextAsync(new string('x', 11)).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(small.IsCompleted);
        Assert.Equal(1, client.QueuedCount);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    [InlineData(426)]
    public async Task Handshake_refused_with_a_4xx_status_stops_retrying_and_fails_queued_sends(int status)
    {
        int requests = 0;
        await using var server = await StartRefusingAsync(status, () => Interlocked.Increment(ref requests));
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/status"), FastRetries());
        var states = new ConcurrentQueue<ReconnectStateChange>();
        client.StateChanged += states.Enqueue;
        var queued = client.SendTextAsync("never");

        var refused = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(status, refused.StatusCode);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => queued.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<WebSocketClosedException>(() => client.SendTextAsync("later").WaitAsync(TimeSpan.FromSeconds(10)));
        var last = states.Last();
        Assert.Equal(ReconnectState.Disconnected, last.State);
        Assert.Same(refused, last.Error);
        // The state says it gave up after the one attempt, that the error was fatal, and which status.
        Assert.Equal(1, last.Attempt);
        Assert.Contains("fatal", last.Reason);
        Assert.Contains(status.ToString(), last.Reason);
        Assert.DoesNotContain(states, s => s.State == ReconnectState.Reconnecting);
        // FastRetries would have tried several times by now.
        await Task.Delay(500);
        Assert.Equal(1, Volatile.Read(ref requests));
        Assert.Equal(ReconnectState.Disconnected, client.State);
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Handshake_answered_with_a_transient_status_is_retried(int status)
    {
        int requests = 0;
        await using var server = await StartRefusingAsync(status, () => Interlocked.Increment(ref requests));
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/status"), FastRetries());
        var retries = new ConcurrentQueue<ReconnectStateChange>();
        client.StateChanged += s => { if (s.State == ReconnectState.Reconnecting) retries.Enqueue(s); };
        var started = client.StartAsync();
        await WaitForAsync(() => Volatile.Read(ref requests) >= 3, "three attempts");
        Assert.False(started.IsCompleted);
        Assert.NotEqual(ReconnectState.Disconnected, client.State);
        Assert.Equal(status, Assert.IsType<WebSocketHandshakeException>(retries.First().Error).StatusCode);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(429)]
    public async Task Retry_after_in_seconds_delays_the_next_attempt_at_least_that_long(int status)
    {
        int requests = 0;
        await using var server = await StartRefusingAsync(status, () => Interlocked.Increment(ref requests), retryAfter: "1");
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/status"), FastRetries());
        var retries = new ConcurrentQueue<ReconnectStateChange>();
        client.StateChanged += s => { if (s.State == ReconnectState.Reconnecting) retries.Enqueue(s); };
        _ = client.StartAsync();
        await WaitForAsync(() => retries.Count >= 2, "two retries");
        // FastRetries alone would wait at most 200 ms; the server asked for 1 s before each.
        foreach (var retry in retries.Take(2))
        {
            Assert.True(retry.Delay >= TimeSpan.FromSeconds(1), $"attempt {retry.Attempt} waited {retry.Delay}");
            Assert.Contains("Retry-After", retry.Reason);
        }
        Assert.Equal(2, retries.First().Attempt);
    }

    [Fact]
    public async Task Retry_after_as_an_http_date_is_honoured_up_to_max_retry_after()
    {
        int requests = 0;
        var inAnHour = DateTimeOffset.UtcNow.AddHours(1).ToString("r", System.Globalization.CultureInfo.InvariantCulture);
        await using var server = await StartRefusingAsync(503, () => Interlocked.Increment(ref requests), retryAfter: inAnHour);
        var options = FastRetries();
        options.MaxRetryAfter = TimeSpan.FromMilliseconds(1500);
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/status"), options);
        var retry = new TaskCompletionSource<ReconnectStateChange>();
        client.StateChanged += s => { if (s.State == ReconnectState.Reconnecting) retry.TrySetResult(s); };
        _ = client.StartAsync();
        var change = await retry.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), change.Delay);
    }

    [Theory]
    [InlineData("1", 503, 1.0)]
    [InlineData(" 120 ", 429, 120.0)]
    [InlineData("99999999999999999999999", 503, 300.0)]
    [InlineData("Thu, 01 Jan 2026 00:00:00 GMT", 503, 0.0)]
    [InlineData("-5", 503, null)]
    [InlineData("soon", 503, null)]
    [InlineData("1", 500, null)]
    [InlineData("1", 408, null)]
    public void Retry_after_is_read_only_from_429_and_503_and_bounded(string header, int status, double? seconds)
    {
        var error = new WebSocketHandshakeException(HandshakeCheck.Status, "refused", status,
            new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["retry-after"] = header });
        var got = ReconnectOptions.RetryAfter(error, new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromMinutes(5));
        Assert.Equal(seconds is double s ? TimeSpan.FromSeconds(s) : null, got);
    }

    [Theory]
    [InlineData(CloseStatus.ServiceRestart)]
    [InlineData(CloseStatus.GoingAway)]
    public async Task Server_restart_close_reconnects_after_a_jittered_delay_within_restart_jitter(CloseStatus code)
    {
        int connections = 0;
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", c =>
        {
            Interlocked.Increment(ref connections);
            return c.CloseAsync(code, "restarting");
        }));
        var jitter = TimeSpan.FromMilliseconds(300);
        // A backoff this long would show if the restart delay were not used.
        var options = new ReconnectOptions { InitialDelay = TimeSpan.FromHours(1), MaxDelay = TimeSpan.FromHours(1), RestartJitter = jitter };
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/ws"), options);
        var retries = new ConcurrentQueue<ReconnectStateChange>();
        client.StateChanged += s => { if (s.State == ReconnectState.Reconnecting) retries.Enqueue(s); };
        await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await WaitForAsync(() => retries.Count >= 3, "three reconnects");
        var delays = retries.Take(3).Select(r => r.Delay!.Value).ToList();
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, jitter));
        Assert.True(delays.Distinct().Count() > 1, "the delays are random, not one fixed wait");
        Assert.All(retries.Take(3), r => Assert.Contains(((int)code).ToString(), r.Reason));
        Assert.True(Volatile.Read(ref connections) >= 3);
    }

    [Fact]
    public async Task ShouldRetry_decides_which_connect_errors_end_the_client()
    {
        int port = FreePort(); // nothing listens: refused, which the default rule retries
        var seen = new ConcurrentQueue<Exception>();
        var options = FastRetries();
        options.ShouldRetry = ex =>
        {
            seen.Enqueue(ex);
            return false;
        };
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), options);
        var error = await Assert.ThrowsAsync<SocketException>(() => client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Same(error, Assert.Single(seen));
        Assert.True(ReconnectOptions.IsTransient(error));
        Assert.Equal(ReconnectState.Disconnected, client.State);
    }

    [Fact]
    public async Task Header_that_can_never_be_sent_stops_the_client_at_the_first_attempt()
    {
        var received = new ConcurrentQueue<string>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/collect", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) received.Enqueue(m.Text);
        }));
        int attempts = 0;
        var options = FastRetries();
        options.ConfigureAttempt = (_, _) =>
        {
            Interlocked.Increment(ref attempts);
            return ValueTask.FromResult(new WebSocketClientOptions().AddHeader("X-Token", "a\r\nInjected: yes"));
        };
        await using var client = new ReconnectingWebSocket(server.WebSocketUri("/collect"), options);
        await Assert.ThrowsAsync<ArgumentException>(() => client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        await Task.Delay(300);
        Assert.Equal(1, Volatile.Read(ref attempts));
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("ws://127.0.0.1/#fragment")]
    [InlineData("/relative")]
    public void Uri_that_can_never_connect_is_refused_by_the_constructor(string uri)
    {
        Assert.Throws<ArgumentException>(() => new ReconnectingWebSocket(new Uri(uri, UriKind.RelativeOrAbsolute)));
    }
}
