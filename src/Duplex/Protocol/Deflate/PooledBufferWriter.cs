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

    /// <summary>Rents an array of at least <paramref name="initialCapacity"/> bytes, which must be positive.</summary>
    public PooledBufferWriter(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialCapacity);
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    /// <summary>Growth stops doubling here; the default is no cap beyond what .NET arrays allow.</summary>
    public int MaxCapacity { get; set; } = Array.MaxLength;

    /// <summary>Bytes written so far.</summary>
    public int WrittenCount => _written;

    /// <summary>The bytes written so far; stale once the writer grows, detaches its array or is disposed.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>The bytes written so far; stale once the writer grows, detaches its array or is disposed.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    /// <summary>The length of the current array, written or not (the pool may round a request up).</summary>
    public int Capacity => _buffer.Length;

    /// <summary>
    /// Counts <paramref name="count"/> more bytes as written. Throws <see cref="InvalidOperationException"/>
    /// past the end of the array.
    /// </summary>
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _buffer.Length - _written) throw new InvalidOperationException("Advanced past the end of the buffer.");
        _written += count;
    }

    /// <summary>
    /// Room for at least <paramref name="sizeHint"/> bytes (1 when 0) after what was written, growing the
    /// array if needed. Throws <see cref="OutOfMemoryException"/> past <see cref="Array.MaxLength"/>.
    /// </summary>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    /// <inheritdoc cref="GetMemory"/>
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

    /// <summary>Returns the array to the pool and forgets what was written; a second call does nothing.</summary>
    public void Dispose()
    {
        if (_buffer.Length == 0) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _written = 0;
    }
}
