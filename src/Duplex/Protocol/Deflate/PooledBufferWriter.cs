using System.Buffers;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over one contiguous array rented from
/// <see cref="ArrayPool{T}.Shared"/>, for compressed payloads and decompressed messages. Growth
/// doubles but never past <see cref="MaxCapacity"/> unless a single request needs it, so a writer
/// capped at a message limit does not rent twice the limit. The array can be handed on
/// (<see cref="DetachBuffer"/>) to whoever returns it to the pool, such as a received message.
/// </summary>
public sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;

    public PooledBufferWriter(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialCapacity);
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    /// <summary>Growth stops doubling here; the default is no cap beyond what .NET arrays allow.</summary>
    public int MaxCapacity { get; set; } = Array.MaxLength;

    public int WrittenCount => _written;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public int Capacity => _buffer.Length;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _buffer.Length - _written) throw new InvalidOperationException("Advanced past the end of the buffer.");
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    /// <summary>Forgets what was written, keeping the array for the next use.</summary>
    public void Clear() => _written = 0;

    /// <summary>
    /// Hands the array and the written length to the caller, who returns the array to
    /// <see cref="ArrayPool{T}.Shared"/>; the writer continues with a fresh small array.
    /// </summary>
    public byte[] DetachBuffer(out int length)
    {
        var buffer = _buffer;
        length = _written;
        _buffer = ArrayPool<byte>.Shared.Rent(256);
        _written = 0;
        return buffer;
    }

    private void Ensure(int sizeHint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        if (sizeHint == 0) sizeHint = 1;
        int free = _buffer.Length - _written;
        if (free >= sizeHint) return;
        long needed = (long)_written + sizeHint;
        if (needed > Array.MaxLength) throw new OutOfMemoryException("A pooled buffer cannot grow past the largest array.");
        long doubled = Math.Min((long)_buffer.Length * 2, MaxCapacity);
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Max(needed, doubled));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        if (_buffer.Length == 0) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _written = 0;
    }
}
