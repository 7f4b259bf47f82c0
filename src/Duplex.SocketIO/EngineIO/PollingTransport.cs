using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// HTTP long-polling: the client's GET is held until packets are queued (one pending GET at a time)
/// and answered with them as one payload; its POST carries a payload the other way (one at a time, at
/// most <see cref="EngineIOOptions.MaxHttpBufferSize"/> bytes).
/// </summary>
internal sealed class PollingTransport : EngineTransport
{
    // Whether a GET is in hand, and the signal it waits on while there is nothing to send.
    private bool _pollActive;
    private TaskCompletionSource? _pollWake;
    private bool _postActive;

    internal PollingTransport(EngineIOSession session) : base(session)
    {
    }

    public override string Name => "polling";

    public override bool IsWritableLocked
    {
        get
        {
            AssertLockHeld();
            return _pollWake is not null;
        }
    }

    public override TransportWake TakeWakeLocked()
    {
        AssertLockHeld();
        var wake = _pollWake;
        _pollWake = null;
        return wake is null ? default : new TransportWake(wake);
    }

    public override bool DefersCloseLocked
    {
        get
        {
            AssertLockHeld();
            return !_pollActive;
        }
    }

    /// <summary>Serves one polling request: a GET waits for packets, a POST delivers them.</summary>
    internal Task HandleRequestAsync(HttpContext context)
    {
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method)) return HandlePollAsync(context);
        if (HttpMethods.IsPost(method)) return HandleDataAsync(context);
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Releases the pending poll with whatever is queued, or a noop when nothing is: during an upgrade
    /// the client pauses polling and waits for its last poll to return before it sends <c>5</c>.
    /// </summary>
    internal void ReleasePendingPoll()
    {
        TransportWake wake;
        lock (Session.Gate)
        {
            if (!Session.IsCurrentLocked(this)) return;
            wake = TakeWakeLocked();
        }
        wake.Signal();
    }

    private async Task HandlePollAsync(HttpContext context)
    {
        TaskCompletionSource? wait = null;
        bool overlap = false;
        lock (Session.Gate)
        {
            if (_pollActive) overlap = true;
            else
            {
                Debug.Assert(_pollWake is null, "a poll waits only while it is in hand");
                _pollActive = true;
                if (Session.IsOpen && Session.IsCurrentLocked(this) && !Session.HasQueuedLocked)
                    wait = _pollWake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        if (overlap)
        {
            // A second pending GET: the reference server fails the session ("overlap from client").
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            Session.Close(EngineCloseReason.TransportError, graceful: false);
            return;
        }
        if (wait is not null)
        {
            using (context.RequestAborted.Register(static s => ((TaskCompletionSource)s!).TrySetCanceled(), wait))
            {
                try
                {
                    await wait.Task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    lock (Session.Gate)
                    {
                        _pollActive = false;
                        if (_pollWake == wait) _pollWake = null;
                    }
                    Session.Close(EngineCloseReason.TransportError, graceful: false); // "poll connection closed prematurely"
                    return;
                }
            }
        }
        List<EnginePacket> packets;
        bool finishClose;
        long takenBytes = 0;
        int taken = 0;
        bool compress = false;
        lock (Session.Gate)
        {
            if (!Session.IsCurrentLocked(this))
            {
                // Upgraded meanwhile. A client pauses polling, and waits for its last poll to end, before
                // it completes the upgrade; a poll still here now is as stale as one arriving after it,
                // which the reference refuses as a bad request. The WebSocket carries the buffer now.
                packets = [];
                finishClose = false;
            }
            else
            {
                packets = Session.TakeQueuedLocked(out takenBytes, out compress);
                taken = packets.Count;
                // The pending poll of a closed session ends with a close packet, except when the client
                // itself sent the close: the reference then only releases the poll with a noop.
                if (!Session.IsOpen)
                    packets.Add(Session.CloseReason == EngineCloseReason.TransportClose ? EnginePacket.NoopPacket : EnginePacket.ClosePacket);
                else if (packets.Count == 0) packets.Add(EnginePacket.NoopPacket);
                finishClose = Session.AwaitsLastPollLocked;
            }
            _pollActive = false;
        }
        if (packets.Count == 0)
        {
            await EngineIOServer.RefuseAsync(context, upgrade: false, EngineIOError.BadRequest, null).ConfigureAwait(false);
            return;
        }
        var body = Encoding.UTF8.GetBytes(EnginePayload.Encode(packets));
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/plain; charset=UTF-8";
        // As the reference: compressed when allowed, at least the threshold long, and some packet in it may
        // be (pings and noops may; only Compress(false) packets may not); a close or noop alone never is.
        if (compress && Session.Options.HttpCompression is { } http && body.Length >= http.Threshold
            && ChooseEncoding(context.Request.Headers.AcceptEncoding.ToString()) is { } encoding)
        {
            body = HttpCompress(body, encoding, http.Level);
            response.Headers.ContentEncoding = encoding;
        }
        response.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        try
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            Session.Close(EngineCloseReason.TransportError, graceful: false);
        }
        Session.OnWritten(takenBytes, taken);
        if (finishClose) Session.FinishClose();
    }

    private async Task HandleDataAsync(HttpContext context)
    {
        lock (Session.Gate)
        {
            if (_postActive)
            {
                Session.Close(EngineCloseReason.TransportError, graceful: false); // "data request overlap from client"
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            _postActive = true;
        }
        try
        {
            var request = context.Request;
            if (string.Equals(request.ContentType, "application/octet-stream", StringComparison.OrdinalIgnoreCase))
            {
                // Engine.IO v4 polling bodies are text; binary travels base64-encoded.
                Session.Close(EngineCloseReason.TransportError, graceful: false);
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            int limit = Session.Options.MaxHttpBufferSize;
            if (request.ContentLength > limit)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return;
            }
            var body = await ReadBodyAsync(request.Body, limit, context.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return;
            }
            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
            }
            catch (DecoderFallbackException)
            {
                text = "";
            }
            if (!EnginePayload.TryDecode(text, out var packets))
            {
                Session.Close(EngineCloseReason.ParseError, graceful: false);
            }
            else
            {
                foreach (var packet in packets)
                {
                    if (!Session.IsOpen) break;
                    Session.OnPacket(packet);
                }
            }
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            // text/html, as the reference answers, keeps old user agents from offering a download.
            response.ContentType = "text/html";
            response.ContentLength = 2;
            response.Headers.CacheControl = "no-store";
            await response.WriteAsync("ok", context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException)
        {
            Session.Close(EngineCloseReason.TransportError, graceful: false); // "data request connection closed prematurely"
        }
        finally
        {
            lock (Session.Gate) _postActive = false;
        }
    }

    /// <summary>
    /// "gzip" or "deflate" when Accept-Encoding allows it (gzip first, as the reference's preference; a
    /// zero q-value refuses, <c>*</c> stands for either), else null.
    /// </summary>
    internal static string? ChooseEncoding(string acceptEncoding)
    {
        if (string.IsNullOrEmpty(acceptEncoding)) return null;
        double gzip = -1, deflate = -1, any = -1;
        foreach (var part in acceptEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var pieces = part.Split(';', StringSplitOptions.TrimEntries);
            double q = 1;
            for (int i = 1; i < pieces.Length; i++)
                if (pieces[i].StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && !double.TryParse(pieces[i].AsSpan(2), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out q))
                    q = 0;
            if (pieces[0].Equals("gzip", StringComparison.OrdinalIgnoreCase)) gzip = q;
            else if (pieces[0].Equals("deflate", StringComparison.OrdinalIgnoreCase)) deflate = q;
            else if (pieces[0] == "*") any = q;
        }
        if (gzip < 0) gzip = any;
        if (deflate < 0) deflate = any;
        if (gzip > 0 && gzip >= deflate) return "gzip";
        return deflate > 0 ? "deflate" : null;
    }

    /// <summary>The body gzip-encoded (RFC 1952) or, for "deflate", zlib-wrapped (RFC 1950) as HTTP's deflate is.</summary>
    private static byte[] HttpCompress(byte[] body, string encoding, System.IO.Compression.CompressionLevel level)
    {
        using var output = new MemoryStream(body.Length / 2 + 64);
        using (Stream compressor = encoding == "gzip"
            ? new System.IO.Compression.GZipStream(output, level, leaveOpen: true)
            : new System.IO.Compression.ZLibStream(output, level, leaveOpen: true))
            compressor.Write(body);
        return output.ToArray();
    }

    /// <summary>Reads a body of at most <paramref name="limit"/> bytes; null when it is longer.</summary>
    private static async Task<byte[]?> ReadBodyAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            int read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0) return buffer.ToArray();
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
    }
}
