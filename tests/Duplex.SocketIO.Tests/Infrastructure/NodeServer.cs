using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Duplex.SocketIO.Tests.Infrastructure;

/// <summary>
/// Runs tests/peers-socketio/server.js (the real npm socket.io server) on a free 127.0.0.1 port for
/// one test. Startup is bounded; disposing kills the process tree and waits for it, also when the
/// test failed. The server also exits by itself when its stdin closes.
/// </summary>
public sealed class NodeServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private NodeServer(Process process, int port)
    {
        _process = process;
        Port = port;
        Uri = new Uri($"http://127.0.0.1:{port}");
    }

    public int Port { get; }

    /// <summary>The node process id (the ping-timeout test stops and continues it).</summary>
    public int ProcessId => _process.Id;

    public Uri Uri { get; }

    /// <summary>What the server wrote on stderr so far (for failure messages).</summary>
    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public static async Task<NodeServer> StartAsync(object? options = null)
    {
        var peers = NodeClient.PeersDirectory;
        if (!Directory.Exists(Path.Combine(peers, "node_modules", "socket.io")))
            throw new InvalidOperationException("socket.io is not installed: run (cd tests/peers-socketio && npm ci)");
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = peers,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("server.js");
        if (options is not null) start.ArgumentList.Add(JsonSerializer.Serialize(options, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        var process = Process.Start(start)!;
        var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        NodeServer? server = null;
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("the node server exited before it was ready: " + stderr));
                return;
            }
            try
            {
                using var line = JsonDocument.Parse(e.Data);
                if (line.RootElement.TryGetProperty("port", out var port)) ready.TrySetResult(port.GetInt32());
            }
            catch (JsonException)
            {
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (server is not null) lock (server._stderr) server._stderr.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            int port = await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
            server = new NodeServer(process, port);
            lock (stderr) server._stderr.Append(stderr);
            return server;
        }
        catch
        {
            Kill(process);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
            process.Dispose();
            throw;
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill(_process);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
    }
}
