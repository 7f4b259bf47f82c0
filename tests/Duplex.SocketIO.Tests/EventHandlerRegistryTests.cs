namespace Duplex.SocketIO.Tests;

/// <summary>The event-handler registry the server's and the client's sockets share (issue 14).</summary>
public sealed class EventHandlerRegistryTests
{
    private readonly List<(Exception Error, string Event)> _failures = new();

    private EventHandlerRegistry<string> Create() => new((ex, name) => { lock (_failures) _failures.Add((ex, name)); });

    private static Func<string, ValueTask> Record(List<string> calls, string who) => e =>
    {
        lock (calls) calls.Add($"{who}:{e}");
        return ValueTask.CompletedTask;
    };

    [Fact]
    public void Catch_all_handlers_run_first_then_the_events_own_each_in_the_order_added()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.On("chat", Record(calls, "own1"));
        registry.OnAny(Record(calls, "any1"));
        registry.On("chat", Record(calls, "own2"));
        registry.OnAny(Record(calls, "any2"));

        registry.Dispatch("chat", "hi");

        Assert.Equal(["any1:hi", "any2:hi", "own1:hi", "own2:hi"], calls);
    }

    [Fact]
    public void Only_the_dispatched_events_own_handlers_run()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.On("a", Record(calls, "a"));
        registry.On("b", Record(calls, "b"));

        registry.Dispatch("b", "x");
        registry.Dispatch("none", "y");

        Assert.Equal(["b:x"], calls);
    }

    [Fact]
    public void Event_names_are_case_sensitive()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.On("Chat", Record(calls, "upper"));

        registry.Dispatch("chat", "x");

        Assert.Empty(calls);
    }

    [Fact]
    public void Off_removes_every_handler_of_the_event_and_leaves_catch_all_and_other_events()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.On("chat", Record(calls, "own1"));
        registry.On("chat", Record(calls, "own2"));
        registry.On("other", Record(calls, "other"));
        registry.OnAny(Record(calls, "any"));

        registry.Off("chat");
        registry.Off("never-registered");
        registry.Dispatch("chat", "1");
        registry.Dispatch("other", "2");

        Assert.Equal(["any:1", "any:2", "other:2"], calls);
    }

    [Fact]
    public void Handler_added_again_after_Off_runs_alone()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.On("chat", Record(calls, "old"));
        registry.Off("chat");
        registry.On("chat", Record(calls, "new"));

        registry.Dispatch("chat", "x");

        Assert.Equal(["new:x"], calls);
    }

    [Fact]
    public void Handler_registered_twice_runs_twice()
    {
        var registry = Create();
        var calls = new List<string>();
        var handler = Record(calls, "h");
        registry.On("chat", handler);
        registry.On("chat", handler);

        registry.Dispatch("chat", "x");

        Assert.Equal(["h:x", "h:x"], calls);
    }

    [Fact]
    public void Changes_made_during_a_dispatch_count_from_the_next_event_on()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.OnAny(e =>
        {
            calls.Add("any:" + e);
            if (e == "1")
            {
                registry.On("chat", Record(calls, "late"));
                registry.Off("chat");
                registry.On("chat", Record(calls, "later"));
            }
            return ValueTask.CompletedTask;
        });
        registry.On("chat", Record(calls, "first"));

        registry.Dispatch("chat", "1");
        registry.Dispatch("chat", "2");

        Assert.Equal(["any:1", "first:1", "any:2", "later:2"], calls);
    }

    [Fact]
    public void Handler_that_throws_is_reported_with_its_event_and_the_handlers_after_it_still_run()
    {
        var registry = Create();
        var calls = new List<string>();
        registry.OnAny(_ => throw new InvalidOperationException("any broke"));
        registry.On("chat", _ => throw new InvalidOperationException("own broke"));
        registry.On("chat", Record(calls, "after"));

        registry.Dispatch("chat", "x");

        Assert.Equal(["after:x"], calls);
        Assert.Equal(["any broke", "own broke"], _failures.Select(f => f.Error.Message));
        Assert.All(_failures, f => Assert.Equal("chat", f.Event));
    }

    [Fact]
    public async Task Handler_runs_on_the_dispatching_thread_until_its_first_await_and_its_later_failure_is_reported()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = new List<string>();
        var registry = new EventHandlerRegistry<string>((ex, name) => { failures.Add($"{name}:{ex.Message}"); reported.TrySetResult(); });
        int dispatcher = Environment.CurrentManagedThreadId;
        int? startedOn = null;
        bool secondStarted = false;
        registry.On("slow", async _ =>
        {
            startedOn = Environment.CurrentManagedThreadId;
            await release.Task;
            throw new InvalidOperationException("late");
        });
        registry.On("slow", _ => { secondStarted = true; return ValueTask.CompletedTask; });

        registry.Dispatch("slow", "x"); // returns while the first handler waits

        Assert.Equal(dispatcher, startedOn);
        Assert.True(secondStarted);
        Assert.Empty(failures);
        release.SetResult();
        await reported.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["slow:late"], failures);
    }

    [Fact]
    public void Handler_returning_an_already_faulted_task_is_reported()
    {
        var registry = Create();
        registry.On("chat", _ => ValueTask.FromException(new InvalidOperationException("faulted")));

        registry.Dispatch("chat", "x");

        var failure = Assert.Single(_failures);
        Assert.Equal("faulted", failure.Error.Message);
    }

    [Fact]
    public void Failure_callback_that_throws_does_not_escape_the_dispatch()
    {
        var registry = new EventHandlerRegistry<string>((_, _) => throw new InvalidOperationException("logger broke"));
        var calls = new List<string>();
        registry.On("chat", _ => throw new InvalidOperationException("handler broke"));
        registry.On("chat", Record(calls, "after"));

        registry.Dispatch("chat", "x");

        Assert.Equal(["after:x"], calls);
    }

    [Fact]
    public void Null_event_names_and_handlers_are_refused_at_registration()
    {
        var registry = Create();
        Assert.Throws<ArgumentNullException>(() => registry.On(null!, _ => ValueTask.CompletedTask));
        Assert.Throws<ArgumentNullException>(() => registry.On("chat", null!));
        Assert.Throws<ArgumentNullException>(() => registry.OnAny(null!));
        Assert.Throws<ArgumentNullException>(() => registry.Off(null!));
    }

    [Fact]
    public async Task Handlers_added_from_many_threads_at_once_are_all_kept()
    {
        var registry = Create();
        var calls = new List<string>();
        const int Threads = 8, PerThread = 200;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                registry.On("chat", Record(calls, "own"));
                registry.OnAny(Record(calls, "any"));
            }
        })));

        registry.Dispatch("chat", "x");

        Assert.Equal(Threads * PerThread, calls.Count(c => c == "own:x"));
        Assert.Equal(Threads * PerThread, calls.Count(c => c == "any:x"));
    }

    [Fact]
    public void Run_reports_a_callbacks_failure_under_the_name_given()
    {
        EventHandlerRegistry.Run<string>(_ => throw new InvalidOperationException("gone"), "transport close", "disconnect",
            (ex, name) => _failures.Add((ex, name)));

        var failure = Assert.Single(_failures);
        Assert.Equal("disconnect", failure.Event);
        Assert.Equal("gone", failure.Error.Message);
    }
}
