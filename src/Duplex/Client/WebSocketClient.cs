using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex;

/// <summary>Opens client connections: ws:// over TCP, wss:// over TLS (with SNI), IPv4 and IPv6.</summary>
public static class WebSocketClient
{
    /// <summary>
    /// Connects and performs the opening handshake (RFC 6455 §4.1). Throws
    /// <see cref="WebSocketHandshakeException"/> when the server's answer fails a check (or the server
    /// hangs up before answering), <see cref="TimeoutException"/> when
    /// <see cref="WebSocketClientOptions.ConnectTimeout"/> passes, whichever step it was in (TCP connect,
    /// TLS or the handshake; the message names it), and the socket's or TLS's own exception when the
    /// network fails otherwise. Cancelling <paramref name="cancellationToken"/> throws
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static async Task<WebSocketConnection> ConnectAsync(Uri uri, WebSocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WebSocketClientOptions();
        bool secure = uri.Scheme switch
        {
            "ws" or "http" => false,
            "wss" or "https" => true,
            _ => throw new ArgumentException($"Unsupported scheme '{uri.Scheme}': use ws:// or wss://.", nameof(uri)),
        };
        if (!string.IsNullOrEmpty(uri.Fragment))
            throw new ArgumentException("A WebSocket URI has no fragment (RFC 6455 §3).", nameof(uri));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var token = timeout.Token;

        var host = uri.DnsSafeHost;
        int port = uri.IsDefaultPort ? (secure ? 443 : 80) : uri.Port;
        EndPoint endPoint = IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
        // A dual-mode socket reaches IPv4 and IPv6 addresses alike.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        bool success = false;
        // One exception type for a timeout in any step, so that a caller (or a retry policy) need not
        // know where it struck; the step is in the message.
        string step = "the TCP connect";
        try
        {
            await socket.ConnectAsync(endPoint, token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (secure)
            {
                step = "the TLS handshake";
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback,
                    ClientCertificates = options.ClientCertificates,
                }, token).ConfigureAwait(false);
            }

            step = "the WebSocket handshake";
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true, useZeroByteReads: true));
            var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
            var deflate = options.Connection.Compression;
            var offer = PerMessageDeflateNegotiation.CreateOffer(deflate);
            string[] extensions = offer is null ? [] : [PerMessageDeflateNegotiation.ExtensionName];
            var handshake = new ClientHandshake(HandshakeKeys.CreateKey(), options.Subprotocols.ToArray(), extensions);
            await writer.WriteAsync(handshake.BuildRequest(uri, options.Headers, offer), token).ConfigureAwait(false);
            var head = await ReadResponseHeadAsync(reader, token).ConfigureAwait(false);
            var (subprotocol, accepted) = handshake.Validate(head);
            PerMessageDeflateParameters? compression = null;
            if (offer is not null && !PerMessageDeflateNegotiation.TryAcceptResponse(accepted, deflate, out compression, out var error))
                throw new WebSocketHandshakeException(HandshakeCheck.Extension, "WebSocket handshake failed: " + error, head.StatusCode, head.Headers);

            // A send stuck on a dead server is aborted by the kernel too (Linux).
            TcpUserTimeout.Apply(socket, options.Connection, options.Logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            var ownedStream = stream;
            success = true;
            return new WebSocketConnection(
                new DuplexPipe(reader, writer),
                WebSocketRole.Client,
                options.Connection,
                subprotocol,
                socket.RemoteEndPoint,
                options.Logger,
                closeTransport: () => ownedStream.DisposeAsync(),
                compression: compression);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {uri} timed out in {step}: not done within {options.ConnectTimeout}.", ex);
        }
        finally
        {
            if (!success)
            {
                if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
                socket.Dispose();
            }
        }
    }

    private static async Task<HttpResponseHead> ReadResponseHeadAsync(PipeReader reader, CancellationToken token)
    {
        while (true)
        {
            var result = await reader.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            var bytes = buffer.Length > HttpResponseHead.MaxLength + 4 ? buffer.Slice(0, HttpResponseHead.MaxLength + 4) : buffer;
            // Heads are small: one copy into a contiguous array is cheaper than parsing a sequence.
            byte[] flat = bytes.IsSingleSegment ? [] : bytes.ToArray();
            ReadOnlySpan<byte> span = bytes.IsSingleSegment ? bytes.FirstSpan : flat;
            if (HttpResponseHead.TryParse(span, out var head, out int consumed))
            {
                reader.AdvanceTo(buffer.GetPosition(consumed));
                return head!;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                throw new WebSocketHandshakeException(HandshakeCheck.Incomplete, "the server closed the connection before the handshake finished");
        }
    }
}
