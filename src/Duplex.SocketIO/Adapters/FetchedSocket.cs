using System.Globalization;
using System.Text.Json;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// A socket <c>FetchSocketsAsync</c> found, on this node (<see cref="Local"/> is set) or on another
/// one (described by what that node sent: id, handshake, rooms, data — the reference's RemoteSocket).
/// Its operations go through the adapter, so they reach the socket wherever it lives.
/// </summary>
public sealed class FetchedSocket
{
    private readonly SocketIONamespace _namespace;

    public FetchedSocket(SocketIONamespace ns, string id, JsonElement handshake, IReadOnlySet<string> rooms, JsonElement data, SocketIOSocket? local = null)
    {
        _namespace = ns;
        Id = id;
        Handshake = handshake;
        Rooms = rooms;
        Data = data;
        Local = local;
    }

    public string Id { get; }

    /// <summary>The handshake as the reference server describes it: headers, time, address, xdomain, secure, issued, url, query, auth.</summary>
    public JsonElement Handshake { get; }

    public IReadOnlySet<string> Rooms { get; }

    /// <summary>The socket's application data, as JSON.</summary>
    public JsonElement Data { get; }

    /// <summary>The socket itself when it is connected to this node; null for a socket on another node.</summary>
    public SocketIOSocket? Local { get; }

    public bool IsLocal => Local is not null;

    public ValueTask<int> EmitAsync(string eventName, params object?[] args) => _namespace.To(Id).EmitAsync(eventName, args);

    public ValueTask JoinAsync(params string[] rooms) => _namespace.In(Id).SocketsJoinAsync(rooms);

    public ValueTask LeaveAsync(params string[] rooms) => _namespace.In(Id).SocketsLeaveAsync(rooms);

    public ValueTask DisconnectAsync(bool close = false) => _namespace.In(Id).DisconnectSocketsAsync(close);

    /// <summary>Describes a socket of this node the way remote nodes receive it.</summary>
    public static FetchedSocket Describe(SocketIOSocket socket)
    {
        var options = socket.Namespace.Server.JsonOptions;
        var data = SocketIOJson.ToElement(socket.Data, options);
        return new FetchedSocket(socket.Namespace, socket.Id, DescribeHandshake(socket.Handshake), socket.Rooms, data, socket);
    }

    /// <summary>The handshake in the reference's JSON shape (its <c>time</c> is a JavaScript <c>Date.toString()</c>).</summary>
    public static JsonElement DescribeHandshake(SocketIOHandshake handshake)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("headers");
            foreach (var (name, value) in handshake.Headers) writer.WriteString(name, value);
            writer.WriteEndObject();
            writer.WriteString("time", handshake.Time.UtcDateTime.ToString("ddd MMM dd yyyy HH:mm:ss 'GMT+0000 (Coordinated Universal Time)'", CultureInfo.InvariantCulture));
            writer.WriteString("address", handshake.Address?.ToString() ?? "");
            writer.WriteBoolean("xdomain", handshake.XDomain);
            writer.WriteBoolean("secure", handshake.Secure);
            writer.WriteNumber("issued", handshake.Issued);
            writer.WriteString("url", handshake.Url);
            writer.WriteStartObject("query");
            foreach (var (name, value) in handshake.Query) writer.WriteString(name, value);
            writer.WriteEndObject();
            writer.WritePropertyName("auth");
            if (handshake.Auth is { } auth) auth.WriteTo(writer);
            else
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }
}
