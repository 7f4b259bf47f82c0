namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 9 sizes. Autobahn's (up to 16 MiB messages, 1000 round trips per case) are kept for
/// <c>--full-size</c>; by default every size and count is divided by 4, which keeps the ratio of
/// message size to fragment size, and so the shape of each case, the same.
/// </summary>
internal sealed record CaseSizes(bool FullSize)
{
    private const int Divisor = 4;

    public int Bytes(int autobahnOctets) => FullSize ? autobahnOctets : autobahnOctets / Divisor;

    public int Count(int autobahnCount) => FullSize ? autobahnCount : autobahnCount / Divisor;

    /// <summary>How long to wait for an echo; scaled runs cap it so a silent peer costs seconds, not minutes.</summary>
    public double WaitSeconds(double autobahnSeconds) => FullSize ? autobahnSeconds : Math.Min(autobahnSeconds, 20);
}
