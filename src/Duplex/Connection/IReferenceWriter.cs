namespace Duplex;

/// <summary>
/// A transport's writer that can send bytes it does not own, by reference instead of by copy: a
/// broadcast's frame goes out to every recipient from the one array it was framed into, so a batch to
/// 10,000 receivers does not take 10,000 buffers (frame once, send many).
/// </summary>
internal interface IReferenceWriter
{
    /// <summary>
    /// Appends <paramref name="bytes"/> to what the next flush sends, without copying them. The caller
    /// guarantees they stay unchanged for as long as the writer may hold them.
    /// </summary>
    void WriteByReference(ReadOnlyMemory<byte> bytes);
}
