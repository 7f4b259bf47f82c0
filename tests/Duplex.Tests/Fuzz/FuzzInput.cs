using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Fuzz;

/// <summary>What a valid client byte stream should make a server do.</summary>
public sealed record ValidStream(byte[] Bytes, List<(Opcode Type, byte[] Data)> Messages, List<byte[]> Pings, int? CloseCode);

/// <summary>Seeded generators of client byte streams, mutations and chunkings.</summary>
public static class FuzzInput
{
    private static readonly string[] TextPieces = ["a", "Z", " ", "0", "é", "ß", "€", "中", "😀", "𝄞", "\u0080", "\u07FF", "\u0800", "\uFFFD", "\U0010FFFF"];
    private static readonly int[] ValidCloseCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

    public static int Size(Random rng, int max) => rng.Next(10) switch
    {
        < 3 => rng.Next(0, 4),
        < 7 => rng.Next(0, 200),
        < 9 => rng.Next(0, Math.Min(max, 5000) + 1),
        _ => rng.Next(0, max + 1),
    };

    public static byte[] RandomText(Random rng, int approxBytes)
    {
        var sb = new StringBuilder();
        while (Encoding.UTF8.GetByteCount(sb.ToString()) < approxBytes)
            sb.Append(TextPieces[rng.Next(TextPieces.Length)]);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static byte[] Frame(Random rng, Opcode opcode, ReadOnlySpan<byte> payload, bool fin) =>
        Frames.Build((byte)opcode, payload, fin, 0, true, (uint)rng.NextInt64(0, 1L << 32), payload.Length);

    /// <summary>A valid stream: messages split into random fragments (text split mid-character too), pings and pongs between.</summary>
    public static ValidStream Valid(Random rng, int maxMessage, int maxFragments)
    {
        var parts = new List<byte[]>();
        var messages = new List<(Opcode, byte[])>();
        var pings = new List<byte[]>();
        void MaybeControl()
        {
            int roll = rng.Next(10);
            if (roll == 0)
            {
                var p = new byte[rng.Next(0, 126)];
                rng.NextBytes(p);
                pings.Add(p);
                parts.Add(Frame(rng, Opcode.Ping, p, true));
            }
            else if (roll == 1)
            {
                var p = new byte[rng.Next(0, 126)];
                rng.NextBytes(p);
                parts.Add(Frame(rng, Opcode.Pong, p, true));
            }
        }

        int count = rng.Next(0, 6);
        for (int m = 0; m < count; m++)
        {
            bool text = rng.Next(2) == 0;
            byte[] payload;
            if (text)
            {
                payload = RandomText(rng, Size(rng, maxMessage - 4));
            }
            else
            {
                payload = new byte[Size(rng, maxMessage)];
                rng.NextBytes(payload);
            }
            int fragments = rng.Next(1, Math.Min(5, maxFragments) + 1);
            var cuts = Enumerable.Range(0, fragments - 1).Select(_ => rng.Next(0, payload.Length + 1)).Order().ToList();
            cuts.Add(payload.Length);
            int prev = 0;
            for (int f = 0; f < fragments; f++)
            {
                var opcode = f == 0 ? (text ? Opcode.Text : Opcode.Binary) : Opcode.Continuation;
                parts.Add(Frame(rng, opcode, payload.AsSpan(prev, cuts[f] - prev), f == fragments - 1));
                prev = cuts[f];
                MaybeControl();
            }
            messages.Add((text ? Opcode.Text : Opcode.Binary, payload));
        }
        int? closeCode = null;
        if (rng.Next(5) != 0)
        {
            closeCode = ValidCloseCodes[rng.Next(ValidCloseCodes.Length)];
            var reason = RandomText(rng, rng.Next(0, 40));
            parts.Add(Frame(rng, Opcode.Close, Frames.ClosePayload(closeCode.Value, Encoding.UTF8.GetString(reason)), true));
        }
        return new(Frames.Concat([.. parts]), messages, pings, closeCode);
    }

    private static readonly byte[] Interesting = [0x00, 0x01, 0x7D, 0x7E, 0x7F, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8A, 0xC0, 0xED, 0xF4, 0xFE, 0xFF];

    /// <summary>Applies a few random mutations: bit flips, interesting bytes, insertions, deletions, duplications, truncation.</summary>
    public static byte[] Mutate(Random rng, byte[] input)
    {
        var bytes = new List<byte>(input);
        int mutations = rng.Next(1, 5);
        for (int m = 0; m < mutations; m++)
        {
            int pos = bytes.Count == 0 ? 0 : rng.Next(bytes.Count);
            switch (rng.Next(7))
            {
                case 0 when bytes.Count > 0:
                    bytes[pos] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[pos] = Interesting[rng.Next(Interesting.Length)];
                    break;
                case 2:
                    var insert = new byte[rng.Next(1, 16)];
                    rng.NextBytes(insert);
                    bytes.InsertRange(pos, insert);
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(pos, rng.Next(1, Math.Min(32, bytes.Count - pos) + 1));
                    break;
                case 4 when bytes.Count > 0:
                    int length = rng.Next(1, Math.Min(64, bytes.Count - pos) + 1);
                    bytes.InsertRange(rng.Next(bytes.Count), bytes.GetRange(pos, length));
                    break;
                case 5:
                    bytes.RemoveRange(pos, bytes.Count - pos);
                    break;
                default:
                    if (bytes.Count > 0) bytes[pos] = (byte)rng.Next(256);
                    break;
            }
        }
        return [.. bytes];
    }

    /// <summary>Splits bytes into random chunks, from single bytes to kilobytes.</summary>
    public static List<ReadOnlyMemory<byte>> Chunk(Random rng, byte[] bytes)
    {
        var chunks = new List<ReadOnlyMemory<byte>>();
        // Byte-by-byte feeding of a long stream costs time without finding more.
        int style = bytes.Length > 3000 ? rng.Next(1, 4) : rng.Next(4);
        for (int pos = 0; pos < bytes.Length;)
        {
            int n = style switch
            {
                0 => rng.Next(1, 4),
                1 => rng.Next(1, 64),
                2 => rng.Next(1, 4096),
                _ => bytes.Length,
            };
            n = Math.Min(n, bytes.Length - pos);
            chunks.Add(bytes.AsMemory(pos, n));
            pos += n;
        }
        return chunks;
    }
}
