using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Duplex;

/// <summary>
/// How <see cref="WebSocketClient.ConnectAsync"/> opens a connection: request headers, subprotocols,
/// the connect timeout, TLS, and the options of the connection once open.
/// </summary>
public sealed class WebSocketClientOptions
{
    /// <summary>Extra request headers (Authorization, Cookie, Origin …).</summary>
    public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>Subprotocols to offer, in order of preference.</summary>
    public IList<string> Subprotocols { get; } = new List<string>();

    /// <summary>
    /// Bound on TCP connect, TLS and the opening handshake together; past it the connect throws
    /// <see cref="TimeoutException"/>. Default 10 s.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Judges the server's certificate for wss://; null means the system's validation.</summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidationCallback { get; set; }

    /// <summary>Certificates to offer when the server asks for one (mutual TLS).</summary>
    public X509CertificateCollection? ClientCertificates { get; set; }

    /// <summary>Limits of the connection once open. The client offers permessage-deflate by default.</summary>
    public WebSocketConnectionOptions Connection { get; set; } = new() { Compression = { Enabled = true } };

    /// <summary>Where the connection logs (protocol and transport errors, keep-alive timeouts); null logs nothing.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Adds a request header to <see cref="Headers"/> and returns these options, for chaining. A name
    /// with CR, LF or ':', or a value with CR or LF, makes the connect fail with <see cref="ArgumentException"/>.
    /// </summary>
    public WebSocketClientOptions AddHeader(string name, string value)
    {
        Headers.Add(new(name, value));
        return this;
    }
}
