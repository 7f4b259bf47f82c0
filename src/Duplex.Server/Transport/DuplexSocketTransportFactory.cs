using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Duplex.Server.Transport;

/// <summary>
/// Kestrel's transport, replaced: TCP (and Unix domain socket) listeners whose connections read and write
/// the socket directly instead of through a pair of pipes. What it saves: memory per idle connection (no
/// pipes, no buffer while idle), larger reads (64 KiB rather than 4 KiB) and one <c>send</c> per flush on
/// the flushing thread. Kestrel's HTTP, TLS and connection middleware run on it unchanged.
/// </summary>
public sealed class DuplexSocketTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly DuplexSocketTransportOptions _options;
    private readonly ILogger _logger;

    /// <summary>Made by dependency injection; <see cref="DuplexSocketTransportExtensions.UseDuplexSockets"/> registers it.</summary>
    /// <param name="options">Read sizes, buffer limits, TCP_NODELAY and backlog, read once here.</param>
    /// <param name="loggerFactory">For the category <c>Duplex.Server.Transport</c> (accept failures).</param>
    public DuplexSocketTransportFactory(IOptions<DuplexSocketTransportOptions> options, ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _logger = loggerFactory.CreateLogger("Duplex.Server.Transport");
    }

    /// <summary>True for <see cref="IPEndPoint"/> and <see cref="UnixDomainSocketEndPoint"/>; Kestrel gives other endpoints to another transport.</summary>
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint or UnixDomainSocketEndPoint;

    /// <summary>
    /// Binds <paramref name="endpoint"/> and listens with <see cref="DuplexSocketTransportOptions.Backlog"/>
    /// (<c>[::]</c> also takes IPv4). Throws <see cref="AddressInUseException"/> when the address is taken,
    /// as Kestrel expects, and <see cref="NotSupportedException"/> for an endpoint <see cref="CanBind"/> refuses.
    /// </summary>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        Socket socket;
        switch (endpoint)
        {
            case IPEndPoint ip:
                socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                // [::] takes IPv4 too, as Kestrel's ListenAnyIP expects.
                if (ip.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
                break;
            case UnixDomainSocketEndPoint:
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                break;
            default:
                throw new NotSupportedException($"The Duplex socket transport cannot listen on {endpoint.GetType().Name}.");
        }
        try
        {
            socket.Bind(endpoint);
            socket.Listen(_options.Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ValueTask<IConnectionListener>(new SocketListener(socket, _options, _logger));
    }
}

/// <summary>Accepts connections; <paramref name="accept"/> stands in for the socket's accept in tests (faults on demand).</summary>
internal sealed class SocketListener(Socket socket, DuplexSocketTransportOptions options, ILogger logger,
    Func<CancellationToken, ValueTask<Socket>>? accept = null) : IConnectionListener
{
    public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await (accept is null ? socket.AcceptAsync(cancellationToken) : accept(cancellationToken)).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return null; // unbound
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.OperationAborted)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // The peer gave up before we took it (reset while queued): take the next one.
                logger.LogDebug(ex, "Accept failed with {Error}", ex.SocketErrorCode);
                continue;
            }
            catch (SocketException ex)
            {
                // Out of descriptors or buffers (EMFILE, ENOBUFS): say so, and retry after a pause
                // instead of spinning on an error that lasts until connections close.
                logger.LogWarning(ex, "Accepting a connection on {EndPoint} failed with {Error}; retrying in 100 ms", EndPoint, ex.SocketErrorCode);
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                if (options.NoDelay && accepted.ProtocolType == ProtocolType.Tcp) accepted.NoDelay = true;
                var connection = new SocketConnection(accepted, options);
                connection.Start();
                return connection;
            }
            catch (SocketException ex)
            {
                logger.LogDebug(ex, "A connection closed while it was being accepted");
                accepted.Dispose();
            }
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Puts Kestrel on Duplex's socket transport.</summary>
public static class DuplexSocketTransportExtensions
{
    /// <summary>
    /// Runs Kestrel on Duplex's socket transport (<see cref="DuplexSocketTransportFactory"/>) instead of its
    /// own. Endpoints it cannot bind (named pipes, handles) stay with the transports registered before.
    /// </summary>
    public static IWebHostBuilder UseDuplexSockets(this IWebHostBuilder builder, Action<DuplexSocketTransportOptions>? configure = null) =>
        builder.ConfigureServices(services =>
        {
            // Kestrel asks the transports registered last first.
            services.AddSingleton<IConnectionListenerFactory, DuplexSocketTransportFactory>();
            if (configure is not null) services.Configure(configure);
        });
}
