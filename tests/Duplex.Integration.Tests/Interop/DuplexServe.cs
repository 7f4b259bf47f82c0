using System.Text.RegularExpressions;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// `duplex serve` as users run it: the built Duplex.Cli in its own process, on 127.0.0.1 and a port
/// the OS picks (Kestrel reports it in its "Now listening on" line).
/// </summary>
internal sealed partial class DuplexServe : IAsyncDisposable
{
    private DuplexServe(PeerProcess process, int port)
    {
        Process = process;
        Port = port;
    }

    public PeerProcess Process { get; }

    public int Port { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    public static async Task<DuplexServe> StartAsync(params string[] extraArguments)
    {
        var process = PeerProcess.Start(InteropPeers.Dotnet, [InteropPeers.DuplexCliDll, "serve", "--host", "127.0.0.1", "--port", "0", .. extraArguments]);
        try
        {
            var line = await process.WaitForLineAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(30));
            return new DuplexServe(process, int.Parse(ListeningLine().Match(line).Groups[1].Value));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    [GeneratedRegex(@"Now listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
