// The floor of bench/compare.sh: the least a WebSocket echo/broadcast server can do on this machine's
// sockets. Raw `Socket`s, no HTTP stack, no pipes, no pools, no limits, no UTF-8 validation, no
// extensions: read the upgrade head, answer 101, then unmask each frame and write it back re-framed
// (frame by frame, streaming: a 1 MiB frame is relayed in 64 KiB pieces). /broadcast relays every
// data frame to every connection on /broadcast. A close frame is answered and the socket closed (the
// server closes first, RFC 6455 §7.1.1). It is a measuring stick, not a server: it trusts its client.
//
// usage: FloorEcho [--port 8082]
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

// Completions run on the socket engine's own threads, as duplex serve runs them (nothing here blocks).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

int port = 8082;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--port" && i + 1 < args.Length) port = int.Parse(args[++i]);

var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
listener.Listen(4096);
Console.WriteLine($"FloorEcho listening on http://127.0.0.1:{port} (/echo, /broadcast)");

var broadcast = new Floor.Group();
while (true)
{
    Socket socket;
    try { socket = await listener.AcceptAsync(); }
    catch (SocketException) { continue; }
    socket.NoDelay = true;
    _ = new Floor.Connection(socket, broadcast).RunAsync();
}

namespace Floor
{
    internal sealed class Group
    {
        private Connection[] _members = [];
        private readonly Lock _gate = new();
        public Connection[] Members => Volatile.Read(ref _members);
        public void Add(Connection c) { lock (_gate) _members = [.. _members, c]; }
        public void Remove(Connection c) { lock (_gate) _members = Array.FindAll(_members, m => m != c); }
    }

    internal sealed class Connection(Socket socket, Group broadcast)
    {
        private static readonly byte[] Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();
        private readonly byte[] _in = new byte[64 * 1024];
        private readonly byte[] _out = new byte[64 * 1024 + 14];
        private readonly SemaphoreSlim _send = new(1, 1);
        private int _start, _end;

        public async Task RunAsync()
        {
            bool member = false;
            try
            {
                var path = await HandshakeAsync();
                if (path is null) return;
                if (path == "/broadcast") { broadcast.Add(this); member = true; }
                await RelayAsync(member);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException) { }
            finally
            {
                if (member) broadcast.Remove(this);
                socket.Dispose();
            }
        }

        private async Task<string?> HandshakeAsync()
        {
            int end;
            while ((end = _in.AsSpan(0, _end).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (_end == _in.Length) return null;
                int n = await socket.ReceiveAsync(_in.AsMemory(_end), SocketFlags.None);
                if (n == 0) return null;
                _end += n;
            }
            var head = Encoding.ASCII.GetString(_in, 0, end);
            _start = end + 4;
            var lines = head.Split("\r\n");
            var target = lines[0].Split(' ');
            string? key = null;
            foreach (var line in lines.AsSpan(1))
                if (line.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase)) key = line[18..].Trim();
            if (key is null || target.Length < 2)
            {
                await SendAllAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfloor"u8.ToArray());
                return null;
            }
            var accept = Convert.ToBase64String(SHA1.HashData([.. Encoding.ASCII.GetBytes(key), .. Guid]));
            await SendAllAsync(Encoding.ASCII.GetBytes(
                $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"));
            return target[1];
        }

        /// <summary>
        /// Each client frame goes back (or to the group) unmasked with the same FIN and opcode; a ping
        /// as a pong. What one receive brought is relayed with one send: its frames are re-framed into
        /// one buffer first. A close frame is answered with 1000 after what came before it.
        /// </summary>
        private async Task RelayAsync(bool toGroup)
        {
            long left = 0;      // payload bytes of the current frame still to come
            int maskOffset = 0;
            uint mask = 0;
            bool skip = false;  // a pong's or a close's payload: read, not relayed
            bool closing = false;
            int o = 0;          // bytes waiting in _out
            while (await FillAsync())
            {
                while (true)
                {
                    if (left == 0)
                    {
                        if (!TryHeader(out var fin, out var opcode, out var length, out mask, out var headerSize)) break;
                        _start += headerSize;
                        left = length;
                        maskOffset = 0;
                        closing = opcode == 0x8;
                        skip = opcode is 0x8 or 0xA;
                        if (!skip)
                        {
                            if (o + 14 > _out.Length) { await FlushAsync(o, toGroup); o = 0; }
                            o += WriteHeader(_out.AsSpan(o), fin, opcode == 0x9 ? (byte)0xA : opcode, length);
                        }
                    }
                    else
                    {
                        int take = (int)Math.Min(left, _end - _start);
                        if (take == 0) break;
                        if (!skip)
                        {
                            take = Math.Min(take, _out.Length - o);
                            if (take == 0) { await FlushAsync(o, toGroup); o = 0; continue; }
                            Unmask(_in.AsSpan(_start, take), _out.AsSpan(o, take), mask, maskOffset);
                            o += take;
                        }
                        maskOffset += take;
                        _start += take;
                        left -= take;
                    }
                    if (left == 0 && closing)
                    {
                        await FlushAsync(o, toGroup);
                        await SendAllAsync(CloseReply);
                        socket.Shutdown(SocketShutdown.Both);
                        return;
                    }
                }
                if (o > 0) { await FlushAsync(o, toGroup); o = 0; }
            }
        }

        /// <summary>XORs 8 bytes at a time with the key rotated to where this piece starts in the frame.</summary>
        private static void Unmask(ReadOnlySpan<byte> source, Span<byte> destination, uint mask, int offset)
        {
            Span<byte> key = stackalloc byte[8];
            for (int i = 0; i < 8; i++) key[i] = (byte)(mask >> (8 * (3 - ((offset + i) & 3))));
            ulong wide = BitConverter.ToUInt64(key);
            int n = 0;
            for (; n + 8 <= source.Length; n += 8)
                BitConverter.TryWriteBytes(destination[n..], BitConverter.ToUInt64(source[n..]) ^ wide);
            for (; n < source.Length; n++) destination[n] = (byte)(source[n] ^ key[n & 7]);
        }

        private static readonly byte[] CloseReply = [0x88, 0x02, 0x03, 0xE8];

        private async ValueTask FlushAsync(int count, bool toGroup)
        {
            if (count == 0) return;
            if (!toGroup) { await SendAllAsync(_out.AsMemory(0, count)); return; }
            var copy = _out.AsSpan(0, count).ToArray();
            foreach (var m in broadcast.Members) await m.SendAllAsync(copy);
        }

        private bool TryHeader(out bool fin, out byte opcode, out long length, out uint mask, out int size)
        {
            fin = false; opcode = 0; length = 0; mask = 0; size = 0;
            var b = _in.AsSpan(_start, _end - _start);
            if (b.Length < 2) return false;
            fin = (b[0] & 0x80) != 0;
            opcode = (byte)(b[0] & 0x0F);
            int len7 = b[1] & 0x7F;
            size = len7 == 126 ? 8 : len7 == 127 ? 14 : 6;
            if (b.Length < size) return false;
            length = len7 == 126 ? BinaryPrimitives.ReadUInt16BigEndian(b[2..]) : len7 == 127 ? (long)BinaryPrimitives.ReadUInt64BigEndian(b[2..]) : len7;
            mask = BinaryPrimitives.ReadUInt32BigEndian(b[(size - 4)..]);
            return true;
        }

        private static int WriteHeader(Span<byte> o, bool fin, byte opcode, long length)
        {
            o[0] = (byte)((fin ? 0x80 : 0) | opcode);
            if (length < 126) { o[1] = (byte)length; return 2; }
            if (length <= ushort.MaxValue) { o[1] = 126; BinaryPrimitives.WriteUInt16BigEndian(o[2..], (ushort)length); return 4; }
            o[1] = 127; BinaryPrimitives.WriteUInt64BigEndian(o[2..], (ulong)length); return 10;
        }

        /// <summary>Moves what is unread to the front and receives more; false at the peer's end.</summary>
        private async ValueTask<bool> FillAsync()
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_in, _start, _in, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n = await socket.ReceiveAsync(_in.AsMemory(_end), SocketFlags.None);
            _end += n;
            return n > 0;
        }

        public async ValueTask SendAllAsync(ReadOnlyMemory<byte> data)
        {
            await _send.WaitAsync();
            try
            {
                while (!data.IsEmpty) data = data[await socket.SendAsync(data, SocketFlags.None)..];
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
            finally { _send.Release(); }
        }
    }
}
