using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// A peer running as a child process (a node script, a python script, the duplex CLI). Its stdout is
/// read line by line; stderr is kept for failure messages. Every wait is bounded, and disposing kills
/// the whole process tree, so a peer that hangs or forks (Chromium does) never outlives its test.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _transcript = new();
    private readonly string _description;

    private PeerProcess(Process process, string description)
    {
        _process = process;
        _description = description;
    }

    public static PeerProcess Start(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = InteropPeers.PeersDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        // Python buffers stdout when it is a pipe; the tests read lines as they come.
        info.Environment["PYTHONUNBUFFERED"] = "1";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var peer = new PeerProcess(process, $"{Path.GetFileName(fileName)} {string.Join(' ', arguments.Select(Path.GetFileName))}");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                peer._lines.Writer.TryComplete();
                return;
            }
            lock (peer._transcript) peer._transcript.AppendLine(e.Data);
            peer._lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (peer._stderr) peer._stderr.AppendLine(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    public int Id => _process.Id;

    /// <summary>Writes a line to the peer's stdin.</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Closes the peer's stdin (end of input, as Ctrl+D).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits until stderr holds a line that satisfies <paramref name="match"/>, polling; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForStandardErrorAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (StandardError.Split('\n').Any(l => match(l.TrimEnd('\r')))) return true;
            await Task.Delay(50);
        }
        return false;
    }

    public string StandardError
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }

    /// <summary>Everything the peer printed, stdout then stderr, and whether it is still running: for failure messages.</summary>
    public string Transcript
    {
        get
        {
            string stdout;
            lock (_transcript) stdout = _transcript.ToString();
            var state = _process.HasExited ? $"exited with {_process.ExitCode}" : "running";
            return $"{_description} ({state})\nstdout:\n{stdout}stderr:\n{StandardError}";
        }
    }

    /// <summary>The next line the peer prints; fails, with its stderr, if it exits or takes too long.</summary>
    public async Task<string> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            if (await _lines.Reader.WaitToReadAsync(cts.Token) && _lines.Reader.TryRead(out var line)) return line;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{_description} printed nothing within {timeout ?? DefaultTimeout}.\nstderr:\n{StandardError}");
        }
        // Output ended: give the exit a moment so the message can say how it ended.
        await Task.WhenAny(_process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(2)));
        var exit = _process.HasExited ? $"exited with {_process.ExitCode}" : "closed its stdout";
        throw new InvalidOperationException($"{_description} {exit} before printing the expected line.\nstderr:\n{StandardError}");
    }

    /// <summary>Skips lines until one satisfies <paramref name="match"/> (within one overall timeout).</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        var seen = new StringBuilder();
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            string line;
            try
            {
                line = await ReadLineAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                throw new InvalidOperationException($"{ex.Message}\nstdout so far:\n{seen}", ex);
            }
            if (match(line)) return line;
            seen.AppendLine(line);
        }
    }

    /// <summary>The next line, parsed as JSON (the peer scripts print one JSON object per line).</summary>
    public async Task<JsonElement> ReadJsonAsync(TimeSpan? timeout = null)
    {
        var line = await ReadLineAsync(timeout);
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"{_description} printed something that is not JSON: {line}\nstderr:\n{StandardError}", ex);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{_description} did not exit within {timeout ?? DefaultTimeout}.\nstderr:\n{StandardError}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _process.Dispose();
    }
}
