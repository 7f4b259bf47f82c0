namespace Duplex.Cli;

internal static class Usage
{
    public const string Text = """
        duplex — WebSocket server, client and tools

        usage:
          duplex serve [--host localhost] [--port 8080] [--compression] [--metrics] [--redis host:port] [--verbose]
                       [--io loop|pool] [--transport duplex|kestrel] [--no-fast-path] [--drain seconds]
              /echo       every message comes back, same type
              /broadcast  every message goes to every connection on /broadcast
              /           a demo page using the browser's WebSocket
              /socket.io/ Socket.IO (Engine.IO v4, Socket.IO v5) running the chat: every
                          "message" goes to everyone; "join-room" joins and tells the room "user-joined"
              /chat       the chat page, on the official socket.io-client browser build
              --metrics logs the "Duplex" meter's totals every 5 s
              --redis joins a cluster: /broadcast and the Socket.IO chat reach every server on that
                      Redis (Duplex, or Node socket.io with @socket.io/redis-adapter)
              --verbose logs every connection opened and closed
              --no-fast-path upgrades /echo and /broadcast through ASP.NET Core's pipeline
              --drain on Ctrl+C/SIGTERM closes the connections with 1012 spread over that many
                      seconds (refusing new ones with 503) instead of 1001 all at once
              --io loop (default) runs each connection inline on the socket event threads, one per
                   core, like Node's event loop; pool is ASP.NET Core's default scheduling
              --transport duplex (default) reads and writes sockets directly (no pipes, no buffer
                   while idle, 64 KiB reads); kestrel is ASP.NET Core's own socket transport
          duplex connect <ws://host:port/path | ws+unix:///path.sock:/path> [--header "Name: value"]...
                         [--subprotocol p]... [--echo] [--insecure] [--quiet] [--compression]
                         [--binary | --hex | --base64] [--file PATH] [--json] [--show-headers]
                         [--ping-interval SECONDS] [--wait N] [--count]
                         [--proxy http://|socks5://|socks5h://host:port] [--no-proxy] [--unix PATH]
              stdin lines go out as text messages; incoming messages are printed, control
              characters escaped (\e, \xNN).
              --binary sends lines as binary; --hex/--base64 read lines as hex/base64 binary
                   messages and print binary messages that way; --file sends a file as one
                   binary message first; --json prints JSON text indented.
              --show-headers prints the server's handshake answer; --ping-interval pings and
                   prints each round trip; --wait N closes after N messages; --count prints how
                   many came and their rate.
              --proxy tunnels through that proxy (default: HTTP_PROXY/HTTPS_PROXY/ALL_PROXY,
                   NO_PROXY); --no-proxy connects directly; --unix connects to a Unix socket.
              --echo sends every message received back unchanged until the peer closes.
              --compression offers (connect) or accepts (serve) permessage-deflate (RFC 7692).
              exit status: 0 closed with 1000/1001/1005, 2 could not connect or handshake refused,
                           3 dropped without a close frame (1006), 4 closed with another code,
                           1 usage error.
          duplex listen <[host:]port> | --unix PATH [--echo] [--quiet] [--compression]
                        [--binary | --hex | --base64] [--json]
              a WebSocket server that prints every message from any client ("[N] < ...",
              N the connection), sends stdin lines to every open connection, and tells
              connections coming and going on stderr; like websocat -s. --echo also sends
              each message back. Ctrl+C closes every connection with 1001.
          duplex bench <echo|broadcast|idle|handshake> [ws://127.0.0.1:8080/path] [options]
              a load generator on raw sockets, loopback only; prints a table (or --json).
              echo       --connections C --depth P --size S [--text]: every echo checked,
                         messages/s, round trip p50/p99/p99.9
              broadcast  --receivers R [--rate N/s] [--depth W]: one publisher on /broadcast,
                         deliveries/s, fan-out latency, losses; --publish-to URL puts the
                         publisher on another server of a cluster (every delivery crosses Redis)
              idle       --connections N: open and hold; --pid gives server KiB per connection
              handshake  --loops L: connect, upgrade, close; handshakes/s
                         --close client|server|tcp: who closes the TCP connection (default client)
              --duration 10 --warmup 1 [--messages N] bound every run; --pid PID reads the
              server's CPU (µs per message) and RSS from /proc; --compression offers
              permessage-deflate; --sources K spreads connections over 127.0.0.1..K.
              exit status: 0 ok, 2 nothing measured, 3 errors during the run, 1 usage error.
        """;

    public static int Print(int status, string? error = null)
    {
        if (error is not null) Console.Error.WriteLine("duplex: " + error);
        (status == 0 ? Console.Out : Console.Error).WriteLine(Text);
        return status;
    }
}
