using System.Net;
using Duplex.Protocol;
using Duplex.Server;
using Duplex.Server.Transport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex listen [host:]port</c>: a WebSocket server for debugging, like <c>websocat -s</c>. Every
/// message from any client is printed (<c>[N] &lt; …</c>, N the connection's number); stdin lines go to
/// every open connection; connections coming and going are told on stderr.
/// </summary>
internal static class ListenCommand
{
    private static readonly HashSet<string> FlagNames = ["echo", "quiet", "compression", .. MessageFormat.Flags];
    private static readonly HashSet<string> OptionNames = ["unix"];

    public static async Task<int> RunAsync(string[] args)
    {
        Arguments parsed;
        MessageFormat format;
        try
        {
            parsed = new Arguments(args, FlagNames);
            if (parsed.Unknown(OptionNames).FirstOrDefault() is { } unknown) return Usage.Print(1, $"unknown option --{unknown}");
            format = MessageFormat.From(parsed);
        }
        catch (ArgumentException ex)
        {
            return Usage.Print(1, ex.Message);
        }
        var unix = parsed.Get("unix");
        IPEndPoint? endPoint = null;
        if (unix is null)
        {
            if (parsed.Positionals.Count != 1 || ParseEndPoint(parsed.Positionals[0]) is not { } parsedEndPoint)
                return Usage.Print(1, "listen needs [host:]port (e.g. 8080, :8080, 127.0.0.1:0) or --unix PATH");
            endPoint = parsedEndPoint;
        }
        else if (parsed.Positionals.Count != 0) return Usage.Print(1, "listen takes --unix PATH or [host:]port, not both");
        bool echo = parsed.Flag("echo");
        bool quiet = parsed.Flag("quiet");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            if (unix is not null) kestrel.ListenUnixSocket(unix, l => l.UseDuplexFastPath());
            else kestrel.Listen(endPoint!, l => l.UseDuplexFastPath());
        });
        builder.WebHost.UseDuplexSockets();
        builder.Services.AddDuplex();
        var app = builder.Build();
        var registry = app.Services.GetRequiredService<WebSocketConnectionRegistry>();
        long next = 0;
        var output = new object();
        void Say(TextWriter writer, string line)
        {
            lock (output) writer.WriteLine(line);
        }

        app.MapWebSocket("/{**path}", async connection =>
        {
            long id = Interlocked.Increment(ref next);
            if (!quiet) Say(Console.Error, $"[{id}] connected from {connection.RemoteEndPoint?.ToString() ?? "a Unix socket"}{(connection.Subprotocol is { } sp ? $" (subprotocol {sp})" : "")}");
            await foreach (var message in connection.ReadMessagesAsync())
            {
                Say(Console.Out, $"[{id}] < {format.Show(message)}");
                if (echo)
                {
                    try { await connection.SendAsync(message); }
                    catch (WebSocketClosedException) { }
                }
            }
            if (!quiet) Say(Console.Error, $"[{id}] closed: {(int?)connection.CloseStatus ?? 1006}{(string.IsNullOrEmpty(connection.CloseStatusDescription) ? "" : " " + MessageFormat.Safe(connection.CloseStatusDescription))}");
        }, o => o.Connection.Compression.Enabled = parsed.Flag("compression"));

        app.Lifetime.ApplicationStopping.Register(() =>
            registry.CloseAllAsync(CloseStatus.GoingAway, "listener stopping").Wait(TimeSpan.FromSeconds(5)));
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
            Say(Console.Error, $"listening on {address.Replace("http://", "ws://", StringComparison.Ordinal)}");

        // stdin lines go to every open connection; the listener stays up after stdin ends (Ctrl+C stops it).
        _ = Task.Run(async () =>
        {
            string? line;
            while ((line = await Console.In.ReadLineAsync()) is not null)
            {
                var (data, type, error) = format.Parse(line);
                if (error is not null)
                {
                    Say(Console.Error, "error: " + error + " (not sent)");
                    continue;
                }
                int sent = await registry.BroadcastAsync(data, type);
                if (sent == 0 && !quiet) Say(Console.Error, "(no connection to send it to)");
            }
        });
        await app.WaitForShutdownAsync();
        return 0;
    }

    /// <summary><c>8080</c>, <c>:8080</c> (localhost), <c>127.0.0.1:0</c>, <c>[::1]:9000</c>, <c>*:80</c>.</summary>
    internal static IPEndPoint? ParseEndPoint(string text)
    {
        int colon = text.LastIndexOf(':');
        var host = colon < 0 ? "" : text[..colon].Trim('[', ']');
        if (!int.TryParse(colon < 0 ? text : text[(colon + 1)..], out int port) || port is < 0 or > 65535) return null;
        if (host is "" or "localhost") return new IPEndPoint(IPAddress.Loopback, port);
        if (host is "*" or "0.0.0.0") return new IPEndPoint(IPAddress.Any, port);
        if (host == "::") return new IPEndPoint(IPAddress.IPv6Any, port);
        return IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : null;
    }
}
