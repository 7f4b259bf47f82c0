using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Duplex.SocketIO.Redis.Tests.Infrastructure;

/// <summary>
/// A child process (a cluster node, redis-server, a node script) whose stdout is read line by line.
/// Every wait is bounded; disposing kills the whole process tree and waits for it (bounded too).
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _transcript = new();
    private readonly string _description;

    private ChildProcess(Process process, string description)
    {
        _process = process;
        _description = description;
    }

    public static ChildProcess Start(string fileName, string workingDirectory, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info };
        var child = new ChildProcess(process, $"{Path.GetFileName(fileName)} {string.Join(' ', arguments.Select(Path.GetFileName))}");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                child._lines.Writer.TryComplete();
                return;
            }
            lock (child._transcript) child._transcript.AppendLine(e.Data);
            child._lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (child._transcript) child._transcript.AppendLine("stderr: " + e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Sends a POSIX signal ("STOP" freezes the process, "CONT" thaws it), as kill(1) does.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, _process.Id.ToString()])!;
        await kill.WaitForExitAsync();
    }

    public string Transcript
    {
        get
        {
            lock (_transcript) return $"{_description} ({(_process.HasExited ? "exited " + _process.ExitCode : "running")}):\n{_transcript}";
        }
    }

    /// <summary>Skips lines until one matches; fails with the transcript when the process ends or the time runs out.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            while (await _lines.Reader.WaitToReadAsync(cts.Token))
                while (_lines.Reader.TryRead(out var line))
                    if (match(line)) return line;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no expected line within {timeout ?? DefaultTimeout}.\n{Transcript}");
        }
        throw new InvalidOperationException($"output ended before the expected line.\n{Transcript}");
    }

    /// <summary>The next JSON line whose "step" is <paramref name="step"/> and that satisfies <paramref name="match"/>.</summary>
    public async Task<JsonElement> WaitForStepAsync(string step, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null)
    {
        var line = await WaitForLineAsync(l =>
        {
            if (!l.StartsWith('{')) return false;
            using var doc = JsonDocument.Parse(l);
            var root = doc.RootElement;
            return root.TryGetProperty("step", out var s) && s.GetString() == step && (match is null || match(root));
        }, timeout);
        using var found = JsonDocument.Parse(line);
        return found.RootElement.Clone();
    }

    /// <summary>Lines printed so far that have not been read yet, without waiting.</summary>
    public List<string> Drain()
    {
        var list = new List<string>();
        while (_lines.Reader.TryRead(out var line)) list.Add(line);
        return list;
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Kills the process tree at once (a crash, as far as the others can tell).</summary>
    public async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // the wait is bounded; a zombie is the OS's business now
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
