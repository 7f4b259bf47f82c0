using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Duplex.Protocol;

/// <summary>
/// Fresh masking keys from a CSPRNG (RFC 6455 §5.3: keys must be unpredictable), drawn in batches so a
/// small message does not cost a call into the random source. Not thread-safe: used under a send lock.
/// </summary>
internal sealed class MaskKeySource
{
    private readonly byte[] _random = new byte[256];
    private int _position = 256;

    public uint Next()
    {
        if (_position == _random.Length)
        {
            RandomNumberGenerator.Fill(_random);
            _position = 0;
        }
        uint key = BinaryPrimitives.ReadUInt32LittleEndian(_random.AsSpan(_position));
        _position += 4;
        return key;
    }
}
