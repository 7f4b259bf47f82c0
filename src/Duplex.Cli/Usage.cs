namespace Duplex.Cli;

internal static class Usage
{
    public const string Text = """
        duplex — WebSocket server, client and tools

        usage:
          duplex serve [--host localhost] [--port 8080] [--compression] [--metrics] [--redis host:port]
              /echo       every message comes back, same type
              /broadcast  every message goes to every connection on /broadcast
              /           a demo page using the browser's WebSocket
              --metrics logs the "Duplex" meter's totals every 5 s
              --redis joins a cluster: /broadcast reaches every server on that Redis
          duplex connect <ws://host:port/path> [--header "Name: value"]... [--subprotocol p]...
                         [--echo] [--insecure] [--quiet] [--compression]
              stdin lines go out as text messages; incoming messages are printed.
              --echo sends every message received back unchanged until the peer closes.
              --compression offers (connect) or accepts (serve) permessage-deflate (RFC 7692).
              exit status: 0 closed with 1000/1001/1005, 2 could not connect or handshake refused,
                           3 dropped without a close frame (1006), 4 closed with another code,
                           1 usage error.
        """;

    public static int Print(int status, string? error = null)
    {
        if (error is not null) Console.Error.WriteLine("duplex: " + error);
        (status == 0 ? Console.Out : Console.Error).WriteLine(Text);
        return status;
    }
}
