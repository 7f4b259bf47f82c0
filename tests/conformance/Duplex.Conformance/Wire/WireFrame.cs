namespace Duplex.Conformance.Wire;

/// <summary>
/// One frame as it arrived, before any judgement: the session decides whether its header is legal.
/// <see cref="Payload"/> is already unmasked.
/// </summary>
internal sealed record WireFrame(
    bool Fin,
    int Rsv,
    int Opcode,
    bool Masked,
    byte[] Payload,
    bool MinimalLengthEncoding,
    bool LengthHighBitSet,
    bool Oversized)
{
    public string Describe() =>
        $"{Wire.Opcode.Name(Opcode)} fin={(Fin ? 1 : 0)} rsv={Rsv} masked={(Masked ? 1 : 0)} len={Payload.Length}";
}
