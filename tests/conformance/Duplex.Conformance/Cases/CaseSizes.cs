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

    /// <summary>
    /// Messages per case in chapters 12 and 13. Autobahn sends 1000 of every size (up to 128 MiB per
    /// case, each compressed and inflated twice); scaled runs send at most a quarter of that and
    /// stop at about <see cref="DeflateOctetsPerCase"/> octets of payload, but never fewer than
    /// <see cref="MinDeflateMessages"/>, enough for the slices to run through the context window and
    /// well past the end of the smaller files.
    /// </summary>
    public int DeflateMessages(int length, int autobahnCount) =>
        FullSize ? autobahnCount : Math.Clamp(DeflateOctetsPerCase / length, MinDeflateMessages, autobahnCount / Divisor);

    public const int DeflateOctetsPerCase = 1024 * 1024;
    public const int MinDeflateMessages = 8;

    /// <summary>How long to wait for an echo; scaled runs cap it so a silent peer costs seconds, not minutes.</summary>
    public double WaitSeconds(double autobahnSeconds) => FullSize ? autobahnSeconds : Math.Min(autobahnSeconds, 20);
}
