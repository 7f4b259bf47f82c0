using System.Text.Json;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// A peer WebSocket server process (ws, python websockets) shared by the tests of one class. It binds
/// 127.0.0.1 port 0 and prints {"port": N} first, so no port is ever guessed or raced for; later
/// lines are JSON events the tests wait for.
/// </summary>
public abstract class PeerServer : IAsyncLifetime
{
    private PeerProcess? _process;

    public Uri Uri(string path = "/") => new($"ws://127.0.0.1:{Port}{path}");

    public int Port { get; private set; }

    internal PeerProcess Process => _process ?? throw new InvalidOperationException("the peer server is not running");

    protected abstract (string FileName, string[] Arguments) Command { get; }

    public async Task InitializeAsync()
    {
        var (fileName, arguments) = Command;
        _process = PeerProcess.Start(fileName, arguments);
        var ready = await _process.ReadJsonAsync();
        Port = ready.GetProperty("port").GetInt32();
    }

    /// <summary>Waits for the JSON event line that <paramref name="match"/> picks (other lines are skipped).</summary>
    internal async Task<JsonElement> WaitForEventAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        var line = await Process.WaitForLineAsync(l =>
        {
            try
            {
                using var doc = JsonDocument.Parse(l);
                return match(doc.RootElement);
            }
            catch (JsonException)
            {
                return false;
            }
        }, timeout ?? TimeSpan.FromSeconds(10));
        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }

    public async Task DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
    }
}
