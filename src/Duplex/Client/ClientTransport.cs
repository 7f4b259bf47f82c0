using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Duplex.Protocol;

namespace Duplex;

/// <summary>What <see cref="WebSocketClientOptions.ConnectCallback"/> is asked to connect to.</summary>
public sealed class WebSocketConnectContext
{
    internal WebSocketConnectContext(Uri uri, DnsEndPoint endPoint)
    {
        Uri = uri;
        EndPoint = endPoint;
    }

    /// <summary>The WebSocket URI being opened (after any redirect).</summary>
    public Uri Uri { get; }

    /// <summary>The host and port the URI names (443 or 80 when it names none).</summary>
    public DnsEndPoint EndPoint { get; }
}

/// <summary>
/// The byte stream under a client connection, before TLS: the connect hook, a Unix domain socket, a
/// tunnel through an HTTP CONNECT or SOCKS5 proxy, or a direct TCP connection.
/// </summary>
internal static class ClientTransport
{
    /// <summary>The stream, and the socket under it when there is one (for socket options and endpoints).</summary>
    internal readonly record struct Opened(Stream Stream, Socket? Socket);

    internal static async Task<Opened> OpenAsync(Uri uri, string host, int port, WebSocketClientOptions options, Action<string> step, CancellationToken token)
    {
        if (options.ConnectCallback is { } hook)
        {
            step("the connect callback");
            var stream = await hook(new WebSocketConnectContext(uri, new DnsEndPoint(host, port)), token).ConfigureAwait(false)
                ?? throw new InvalidOperationException("WebSocketClientOptions.ConnectCallback returned no stream.");
            return new Opened(stream, (stream as NetworkStream)?.Socket);
        }
        if (UnixSocketPath(uri, options) is string path)
        {
            step("the Unix socket connect");
            var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await unix.ConnectAsync(new UnixDomainSocketEndPoint(path), token).ConfigureAwait(false);
            }
            catch
            {
                unix.Dispose();
                throw;
            }
            return new Opened(new NetworkStream(unix, ownsSocket: true), unix);
        }

        var proxy = ProxyFor(uri, options);
        step(proxy is null ? "the TCP connect" : $"the TCP connect to the proxy {proxy.Authority}");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }; // dual mode: IPv4 and IPv6
        Stream? opened = null;
        try
        {
            var (connectHost, connectPort) = proxy is null ? (host, port) : (proxy.IdnHost, proxy.Port);
            EndPoint endPoint = IPAddress.TryParse(connectHost, out var address) ? new IPEndPoint(address, connectPort) : new DnsEndPoint(connectHost, connectPort);
            await socket.ConnectAsync(endPoint, token).ConfigureAwait(false);
            opened = new NetworkStream(socket, ownsSocket: true);
            if (proxy is not null)
            {
                step($"the proxy handshake with {proxy.Authority}");
                if (proxy.Scheme is "socks5" or "socks5h")
                    await Socks5ConnectAsync(opened, proxy, host, port, remoteDns: proxy.Scheme == "socks5h", options.Proxy, token).ConfigureAwait(false);
                else
                    await HttpConnectAsync(opened, proxy, host, port, options.Proxy, token).ConfigureAwait(false);
            }
            return new Opened(opened, socket);
        }
        catch
        {
            if (opened is not null) await opened.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The Unix socket to connect to: the option, or the path of a <c>ws+unix://</c> URI.</summary>
    internal static string? UnixSocketPath(Uri uri, WebSocketClientOptions options)
    {
        if (options.UnixSocketPath is { Length: > 0 } path) return path;
        if (uri.Scheme is not ("ws+unix" or "wss+unix")) return null;
        var (socketPath, _) = SplitUnixUri(uri);
        return socketPath;
    }

    /// <summary><c>ws+unix:///run/app.sock:/chat?room=1</c>: the socket's path, then the request target after the first ':'.</summary>
    internal static (string SocketPath, string Target) SplitUnixUri(Uri uri)
    {
        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        int colon = path.IndexOf(':');
        var socketPath = colon < 0 ? path : path[..colon];
        var target = colon < 0 || colon == path.Length - 1 ? "/" : path[(colon + 1)..];
        if (!target.StartsWith('/')) target = "/" + target;
        if (socketPath.Length == 0) throw new ArgumentException($"'{uri}' names no socket path: use ws+unix:///path/to.sock:/resource.", nameof(uri));
        return (socketPath, target + uri.Query);
    }

    /// <summary>The proxy for this URI, or null to connect directly (no proxy, bypassed, or loopback-only config).</summary>
    internal static Uri? ProxyFor(Uri uri, WebSocketClientOptions options)
    {
        if (!options.UseProxy) return null;
        var proxy = options.Proxy ?? System.Net.Http.HttpClient.DefaultProxy;
        // Proxies are chosen by the HTTP scheme the WebSocket one stands for (as ClientWebSocket does):
        // ws:// by HTTP_PROXY, wss:// by HTTPS_PROXY.
        var http = new UriBuilder(uri) { Scheme = uri.Scheme is "wss" or "https" ? "https" : "http" }.Uri;
        if (proxy.IsBypassed(http)) return null;
        var chosen = proxy.GetProxy(http);
        if (chosen is null || chosen == http) return null;
        if (chosen.Scheme is not ("http" or "socks5" or "socks5h"))
            throw new NotSupportedException($"Proxy '{chosen.GetLeftPart(UriPartial.Authority)}': only http://, socks5:// and socks5h:// proxies are supported.");
        return chosen;
    }

    /// <summary>The user name and password for the proxy: its credentials, else the proxy URI's user info.</summary>
    private static NetworkCredential? CredentialFor(Uri proxy, IWebProxy? configured)
    {
        var credential = configured?.Credentials?.GetCredential(proxy, "Basic");
        if (credential is not null && !string.IsNullOrEmpty(credential.UserName)) return credential;
        if (string.IsNullOrEmpty(proxy.UserInfo)) return null;
        int colon = proxy.UserInfo.IndexOf(':');
        return colon < 0
            ? new NetworkCredential(Uri.UnescapeDataString(proxy.UserInfo), "")
            : new NetworkCredential(Uri.UnescapeDataString(proxy.UserInfo[..colon]), Uri.UnescapeDataString(proxy.UserInfo[(colon + 1)..]));
    }

    private static string Authority(string host, int port) =>
        (host.Contains(':') ? $"[{host}]" : host) + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An HTTP CONNECT tunnel (RFC 9110 §9.3.6), with Basic proxy authentication when there are credentials.</summary>
    private static async Task HttpConnectAsync(Stream stream, Uri proxy, string host, int port, IWebProxy? configured, CancellationToken token)
    {
        var target = Authority(host, port);
        var request = new StringBuilder(128).Append("CONNECT ").Append(target).Append(" HTTP/1.1\r\nHost: ").Append(target).Append("\r\n");
        if (CredentialFor(proxy, configured) is { } credential)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(credential.UserName + ":" + credential.Password));
            request.Append("Proxy-Authorization: Basic ").Append(basic).Append("\r\n");
        }
        request.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), token).ConfigureAwait(false);

        // A byte at a time: nothing after the head may be consumed, it belongs to the tunnel.
        var head = new byte[HttpResponseHead.MaxLength];
        int length = 0;
        while (length < 4 || !head.AsSpan(length - 4, 4).SequenceEqual("\r\n\r\n"u8))
        {
            if (length == head.Length) throw ProxyFailed(proxy, $"its answer to CONNECT exceeds {head.Length} bytes");
            if (await stream.ReadAsync(head.AsMemory(length, 1), token).ConfigureAwait(false) == 0)
                throw ProxyFailed(proxy, "it closed the connection before answering CONNECT");
            length++;
        }
        HttpResponseHead.TryParse(head.AsSpan(0, length), out var response, out _);
        if (response!.StatusCode / 100 != 2)
        {
            var why = response.StatusCode == 407 ? " (proxy authentication required" + (CredentialFor(proxy, configured) is null ? "; no credentials were given)" : "; the credentials were refused)") : "";
            throw new WebSocketHandshakeException(HandshakeCheck.Proxy,
                $"the proxy {proxy.Authority} answered CONNECT {target} with {response.StatusCode} {response.ReasonPhrase}{why}", response.StatusCode, response.Headers);
        }
    }

    /// <summary>A SOCKS5 CONNECT (RFC 1928), with username/password authentication (RFC 1929) when there are credentials.</summary>
    private static async Task Socks5ConnectAsync(Stream stream, Uri proxy, string host, int port, bool remoteDns, IWebProxy? configured, CancellationToken token)
    {
        var credential = CredentialFor(proxy, configured);
        byte[] greeting = credential is null ? [5, 1, 0] : [5, 2, 0, 2];
        await stream.WriteAsync(greeting, token).ConfigureAwait(false);
        var reply = new byte[2];
        await ReadExactAsync(stream, proxy, reply, token).ConfigureAwait(false);
        if (reply[0] != 5) throw ProxyFailed(proxy, $"it is not a SOCKS5 proxy (version byte {reply[0]})");
        switch (reply[1])
        {
            case 0: break;
            case 2 when credential is not null:
                var user = Encoding.UTF8.GetBytes(credential.UserName);
                var password = Encoding.UTF8.GetBytes(credential.Password);
                if (user.Length > 255 || password.Length > 255) throw ProxyFailed(proxy, "SOCKS5 user names and passwords are at most 255 bytes");
                var auth = new byte[3 + user.Length + password.Length];
                auth[0] = 1;
                auth[1] = (byte)user.Length;
                user.CopyTo(auth, 2);
                auth[2 + user.Length] = (byte)password.Length;
                password.CopyTo(auth, 3 + user.Length);
                await stream.WriteAsync(auth, token).ConfigureAwait(false);
                await ReadExactAsync(stream, proxy, reply, token).ConfigureAwait(false);
                if (reply[1] != 0) throw new WebSocketHandshakeException(HandshakeCheck.Proxy, $"the SOCKS5 proxy {proxy.Authority} refused the user name and password");
                break;
            case 0xFF:
                throw new WebSocketHandshakeException(HandshakeCheck.Proxy,
                    $"the SOCKS5 proxy {proxy.Authority} accepts none of the offered methods ({(credential is null ? "no authentication; it may need a user name and password" : "none or user name/password")})");
            default:
                throw ProxyFailed(proxy, $"it chose SOCKS5 method {reply[1]}, which was not offered");
        }

        // VER CMD=CONNECT RSV ATYP DST.ADDR DST.PORT
        byte[] address;
        byte type;
        if (IPAddress.TryParse(host, out var ip) || !remoteDns && (ip = await ResolveAsync(host, token).ConfigureAwait(false)) is not null)
        {
            if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
            address = ip.GetAddressBytes();
            type = address.Length == 4 ? (byte)1 : (byte)4;
        }
        else
        {
            var name = Encoding.ASCII.GetBytes(host);
            if (name.Length > 255) throw ProxyFailed(proxy, "the host name is longer than SOCKS5 allows (255 bytes)");
            address = [(byte)name.Length, .. name];
            type = 3;
        }
        var connect = new byte[4 + address.Length + 2];
        connect[0] = 5;
        connect[1] = 1;
        connect[3] = type;
        address.CopyTo(connect, 4);
        BinaryPrimitives.WriteUInt16BigEndian(connect.AsSpan(4 + address.Length), (ushort)port);
        await stream.WriteAsync(connect, token).ConfigureAwait(false);

        var answer = new byte[4];
        await ReadExactAsync(stream, proxy, answer, token).ConfigureAwait(false);
        if (answer[0] != 5) throw ProxyFailed(proxy, $"bad SOCKS5 reply version {answer[0]}");
        if (answer[1] != 0)
            throw new WebSocketHandshakeException(HandshakeCheck.Proxy, $"the SOCKS5 proxy {proxy.Authority} could not connect to {Authority(host, port)}: {Socks5Reply(answer[1])}");
        int rest = answer[3] switch
        {
            1 => 4 + 2,
            4 => 16 + 2,
            3 => -1,
            _ => throw ProxyFailed(proxy, $"bad SOCKS5 address type {answer[3]} in its reply"),
        };
        if (rest < 0)
        {
            var lengthByte = new byte[1];
            await ReadExactAsync(stream, proxy, lengthByte, token).ConfigureAwait(false);
            rest = lengthByte[0] + 2;
        }
        await ReadExactAsync(stream, proxy, new byte[rest], token).ConfigureAwait(false); // the bound address: unused
    }

    private static async Task<IPAddress?> ResolveAsync(string host, CancellationToken token)
    {
        var addresses = await Dns.GetHostAddressesAsync(host, token).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
    }

    private static string Socks5Reply(byte code) => code switch
    {
        1 => "general failure",
        2 => "connection not allowed by its rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => $"reply code {code}",
    };

    private static async Task ReadExactAsync(Stream stream, Uri proxy, byte[] buffer, CancellationToken token)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, token).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw ProxyFailed(proxy, "it closed the connection during the SOCKS5 handshake");
        }
    }

    private static WebSocketHandshakeException ProxyFailed(Uri proxy, string why) =>
        new(HandshakeCheck.Proxy, $"the proxy {proxy.Authority} failed: {why}");
}
