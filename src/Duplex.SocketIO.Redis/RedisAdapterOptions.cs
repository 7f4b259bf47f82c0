namespace Duplex.SocketIO.Redis;

/// <summary>Options of the Redis adapter; names and defaults are <c>@socket.io/redis-adapter</c>'s.</summary>
public sealed class RedisAdapterOptions
{
    /// <summary>Prefix of every channel (<c>key</c>); servers that share it form one cluster. Default "socket.io".</summary>
    public string Key { get; set; } = "socket.io";

    /// <summary>How long a request to the other servers (fetch, server-side emit with acks) waits (<c>requestsTimeout</c>). Default 5 s.</summary>
    public TimeSpan RequestsTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Answer each request on the requester's own channel (<c>{key}-response#{nsp}#{uid}#</c>) instead
    /// of the shared one (<c>publishOnSpecificResponseChannel</c>). Default false, as the reference.
    /// </summary>
    public bool PublishOnSpecificResponseChannel { get; set; }
}
