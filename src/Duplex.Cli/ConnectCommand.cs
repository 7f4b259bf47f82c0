using Duplex.Protocol;

namespace Duplex.Cli;

/// <summary><c>duplex connect</c>: an interactive client in the manner of wscat, and an echo client.</summary>
internal static class ConnectCommand
{
    private static readonly HashSet<string> FlagNames = ["echo", "insecure", "quiet", "compression", "show-headers", "count", "no-proxy", .. MessageFormat.Flags];
    private static readonly HashSet<string> OptionNames = ["header", "subprotocol", "file", "ping-interval", "wait", "proxy", "unix"];

    public static async Task<int> RunAsync(string[] args)
    {
        Arguments parsed;
        MessageFormat format;
        int wait;
        double pingSeconds;
        try
        {
            parsed = new Arguments(args, FlagNames);
            if (parsed.Unknown(OptionNames).FirstOrDefault() is { } unknown)
                return Usage.Print(1, $"unknown option --{unknown}");
            format = MessageFormat.From(parsed);
            wait = parsed.GetInt("wait", 0);
            if (wait < 0) throw new ArgumentException("--wait must be 0 or more");
            pingSeconds = parsed.Get("ping-interval") is { } p
                ? double.TryParse(p, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? s
                    : throw new ArgumentException("--ping-interval must be a number of seconds above 0")
                : 0;
        }
        catch (ArgumentException ex)
        {
            return Usage.Print(1, ex.Message);
        }
        if (parsed.Positionals.Count != 1 || !Uri.TryCreate(parsed.Positionals[0], UriKind.Absolute, out var uri))
            return Usage.Print(1, "connect needs one ws://, wss:// or ws+unix:// URL");
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
        if (parsed.Get("proxy") is { } proxy)
        {
            if (!Uri.TryCreate(proxy, UriKind.Absolute, out var proxyUri)) return Usage.Print(1, $"--proxy needs a URL (http://, socks5://, socks5h://), got '{proxy}'");
            options.Proxy = new System.Net.WebProxy(proxyUri);
        }
        if (parsed.Flag("no-proxy")) options.UseProxy = false;
        options.UnixSocketPath = parsed.Get("unix");
        byte[]? file = null;
        if (parsed.Get("file") is { } path)
        {
            try { file = await File.ReadAllBytesAsync(path); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { Console.Error.WriteLine($"error: --file: {ex.Message}"); return 1; }
        }

        WebSocketConnection connection;
        try
        {
            connection = await WebSocketClient.ConnectAsync(uri, options);
        }
        catch (Exception ex) when (ex is WebSocketHandshakeException or IOException or System.Net.Sockets.SocketException
                                       or TimeoutException or System.Security.Authentication.AuthenticationException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
        if (!quiet) Console.Error.WriteLine($"connected to {uri}{(connection.Subprotocol is { } sp ? $" (subprotocol {sp})" : "")}; Ctrl+D closes");
        if (parsed.Flag("show-headers") && connection.HandshakeResponse is { } head)
        {
            Console.Error.WriteLine($"HTTP/1.1 {head.StatusCode} {head.ReasonPhrase}");
            foreach (var (name, value) in head.Headers) Console.Error.WriteLine($"{name}: {MessageFormat.Safe(value)}");
        }

        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            _ = connection.CloseAsync(CloseStatus.NormalClosure);
        };

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long received = 0;
        var receiving = Task.Run(async () =>
        {
            await foreach (var message in connection.ReadMessagesAsync())
            {
                received++;
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
                    Console.WriteLine("< " + format.Show(message));
                }
                if (wait > 0 && received == wait)
                {
                    await CloseQuietlyAsync(connection);
                    break;
                }
            }
        });

        if (file is not null)
        {
            try { await connection.SendAsync(file, WebSocketMessageType.Binary); }
            catch (WebSocketClosedException) { }
        }
        if (pingSeconds > 0) _ = PingLoopAsync(connection, TimeSpan.FromSeconds(pingSeconds));

        if (!echo)
        {
            // stdin lines go out until stdin ends, then the connection is closed politely (unless --wait
            // decides when to close).
            _ = Task.Run(async () =>
            {
                string? line;
                while ((line = await Console.In.ReadLineAsync()) is not null)
                {
                    var (data, type, error) = format.Parse(line);
                    if (error is not null)
                    {
                        Console.Error.WriteLine("error: " + error + " (not sent)");
                        continue;
                    }
                    try
                    {
                        await connection.SendAsync(data, type);
                    }
                    catch (WebSocketClosedException)
                    {
                        return;
                    }
                }
                if (wait == 0) await CloseQuietlyAsync(connection);
            });
        }

        await receiving;
        await connection.Completion;
        var code = connection.CloseStatus;
        if (parsed.Flag("count"))
        {
            var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            Console.Error.WriteLine($"received {received} message{(received == 1 ? "" : "s")} in {seconds:0.###} s ({(seconds > 0 ? received / seconds : 0):0.#}/s)");
        }
        if (!quiet || code is not (CloseStatus.NormalClosure or CloseStatus.GoingAway or CloseStatus.NoStatusReceived))
            Console.Error.WriteLine($"closed: {(int?)code ?? 1006}{(string.IsNullOrEmpty(connection.CloseStatusDescription) ? "" : " " + MessageFormat.Safe(connection.CloseStatusDescription))}");
        return code switch
        {
            CloseStatus.NormalClosure or CloseStatus.GoingAway or CloseStatus.NoStatusReceived => 0,
            CloseStatus.AbnormalClosure or null => 3,
            _ => 4,
        };
    }

    private static async Task CloseQuietlyAsync(WebSocketConnection connection)
    {
        try { await connection.CloseAsync(CloseStatus.NormalClosure); }
        catch (Exception ex) when (ex is WebSocketClosedException or IOException or InvalidOperationException) { }
    }

    /// <summary>--ping-interval: a ping every interval, its round trip on stderr, until the connection ends.</summary>
    private static async Task PingLoopAsync(WebSocketConnection connection, TimeSpan interval)
    {
        while (connection.State == WebSocketState.Open)
        {
            await Task.Delay(interval);
            if (connection.State != WebSocketState.Open) return;
            try
            {
                var rtt = await connection.PingAsync().WaitAsync(TimeSpan.FromSeconds(30));
                Console.Error.WriteLine($"ping: {rtt.TotalMilliseconds:0.###} ms");
            }
            catch (Exception ex) when (ex is WebSocketClosedException or TimeoutException or IOException or InvalidOperationException or OperationCanceledException)
            {
                if (connection.State == WebSocketState.Open) Console.Error.WriteLine($"ping: no pong ({ex.Message})");
            }
        }
    }
}
