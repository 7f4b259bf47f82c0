namespace Duplex.SocketIO.Client;

/// <summary>
/// The reconnection delays of the npm client: <c>delay × 2^attempt</c>, moved up or down by a random
/// share of at most <c>randomizationFactor</c>, and capped at the maximum.
/// </summary>
internal sealed class ReconnectBackoff
{
    private readonly double _min;
    private readonly double _max;
    private readonly double _jitter;
    private readonly Func<double> _random;

    public ReconnectBackoff(TimeSpan min, TimeSpan max, double jitter, Func<double>? random = null)
    {
        _min = Math.Max(0, min.TotalMilliseconds);
        _max = Math.Max(_min, max.TotalMilliseconds);
        _jitter = jitter is > 0 and <= 1 ? jitter : 0;
        _random = random ?? Random.Shared.NextDouble;
    }

    /// <summary>How many delays were handed out since the last reset.</summary>
    public int Attempts { get; private set; }

    /// <summary>The delay before the next attempt; counts the attempt.</summary>
    public TimeSpan Next()
    {
        // Past 2^30 the cap has long applied; the bound keeps the arithmetic finite.
        double ms = _min * Math.Pow(2, Math.Min(Attempts, 30));
        Attempts++;
        if (_jitter > 0)
        {
            double r = _random();
            double deviation = Math.Floor(r * _jitter * ms);
            // The npm client picks the direction from the same random number.
            ms = ((int)Math.Floor(r * 10) & 1) == 0 ? ms - deviation : ms + deviation;
        }
        return TimeSpan.FromMilliseconds(Math.Floor(Math.Min(ms, _max)));
    }

    public void Reset() => Attempts = 0;
}
