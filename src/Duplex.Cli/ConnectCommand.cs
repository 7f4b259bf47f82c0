using Duplex.Protocol;

namespace Duplex.Cli;

/// <summary><c>duplex connect</c>: an interactive client in the manner of wscat, and an echo client.</summary>
internal static class ConnectCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        Arguments parsed;
        try
        {
            parsed = new Arguments(args, new HashSet<string> { "echo", "insecure", "quiet", "compression" });
            if (parsed.Unknown(new HashSet<string> { "header", "subprotocol" }).FirstOrDefault() is { } unknown)
                return Usage.Print(1, $"unknown option --{unknown}");
        }
        catch (ArgumentException ex)
        {
            return Usage.Print(1, ex.Message);
        }
        if (parsed.Positionals.Count != 1 || !Uri.TryCreate(parsed.Positionals[0], UriKind.Absolute, out var uri))
            return Usage.Print(1, "connect needs one ws:// or wss:// URL");
        bool echo = parsed.Flag("echo");
        bool quiet = parsed.Flag("quiet") || echo;

        var options = new WebSocketClientOptions();
        foreach (var header in parsed.All("header"))
        {
            int colon = header.IndexOf(':');
            if (colon <= 0) return Usage.Print(1, $"--header needs 'Name: value', got '{header}'");
            options.AddHeader(header[..colon].Trim(), header[(colon + 1)..].Trim());
        }
        foreach (var p in parsed.All("subprotocol")) options.Subprotocols.Add(p);
        options.Connection.Compression.Enabled = parsed.Flag("compression");
        if (parsed.Flag("insecure")) options.RemoteCertificateValidationCallback = (_, _, _, _) => true;

        WebSocketConnection connection;
        try
        {
            connection = await WebSocketClient.ConnectAsync(uri, options);
        }
        catch (Exception ex) when (ex is WebSocketHandshakeException or IOException or System.Net.Sockets.SocketException
                                       or TimeoutException or System.Security.Authentication.AuthenticationException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
        if (!quiet) Console.Error.WriteLine($"connected to {uri}{(connection.Subprotocol is { } sp ? $" (subprotocol {sp})" : "")}; Ctrl+D closes");

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            _ = connection.CloseAsync(CloseStatus.NormalClosure);
        };

        var receiving = Task.Run(async () =>
        {
            await foreach (var message in connection.ReadMessagesAsync())
            {
                if (echo)
                {
                    try
                    {
                        await connection.SendAsync(message);
                    }
                    catch (WebSocketClosedException)
                    {
                        // The peer closed while we echoed; the loop ends with the close.
                    }
                }
                else
                {
                    Console.WriteLine(message.IsText ? "< " + message.Text : $"< <binary {message.Length} bytes> {Convert.ToHexString(message.Data.Span[..Math.Min(32, message.Length)])}");
                }
            }
        });

        if (!echo)
        {
            // stdin lines go out as text until stdin ends, then the connection is closed politely.
            _ = Task.Run(async () =>
            {
                string? line;
                while ((line = await Console.In.ReadLineAsync()) is not null)
                {
                    try
                    {
                        await connection.SendTextAsync(line);
                    }
                    catch (WebSocketClosedException)
                    {
                        return;
                    }
                }
                await connection.CloseAsync(CloseStatus.NormalClosure);
            });
        }

        await receiving;
        await connection.Completion;
        var code = connection.CloseStatus;
        if (!quiet || code is not (CloseStatus.NormalClosure or CloseStatus.GoingAway or CloseStatus.NoStatusReceived))
            Console.Error.WriteLine($"closed: {(int?)code ?? 1006}{(string.IsNullOrEmpty(connection.CloseStatusDescription) ? "" : " " + connection.CloseStatusDescription)}");
        return code switch
        {
            CloseStatus.NormalClosure or CloseStatus.GoingAway or CloseStatus.NoStatusReceived => 0,
            CloseStatus.AbnormalClosure or null => 3,
            _ => 4,
        };
    }
}
