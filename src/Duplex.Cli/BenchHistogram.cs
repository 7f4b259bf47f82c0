namespace Duplex.Cli;

/// <summary>
/// Latency histogram in nanoseconds with about 3% resolution (32 sub-buckets per power of two),
/// safe to record into from many threads. Fixed size (about 15 KB), so recording never allocates.
/// </summary>
internal sealed class BenchHistogram
{
    private const int SubBits = 5;
    private const int Sub = 1 << SubBits;
    private readonly long[] _counts = new long[(64 - SubBits + 1) * Sub];

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0) nanoseconds = 0;
        Interlocked.Increment(ref _counts[IndexOf(nanoseconds)]);
    }

    public void Add(BenchHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++) _counts[i] += Volatile.Read(ref other._counts[i]);
    }

    public long Count
    {
        get
        {
            long n = 0;
            foreach (var c in _counts) n += c;
            return n;
        }
    }

    /// <summary>The value at quantile <paramref name="q"/> (0–1), as the upper bound of its bucket; 0 when empty.</summary>
    public long Quantile(double q)
    {
        long total = Count;
        if (total == 0) return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return UpperBound(i);
        }
        return UpperBound(_counts.Length - 1);
    }

    public long Max
    {
        get
        {
            for (int i = _counts.Length - 1; i >= 0; i--)
                if (_counts[i] != 0) return UpperBound(i);
            return 0;
        }
    }

    private static int IndexOf(long v)
    {
        if (v < Sub) return (int)v;
        int exponent = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)v); // >= SubBits
        int sub = (int)(v >> (exponent - SubBits)) & (Sub - 1);
        return (exponent - SubBits + 1) * Sub + sub;
    }

    private static long UpperBound(int index)
    {
        if (index < Sub) return index;
        int exponent = index / Sub + SubBits - 1;
        long sub = index % Sub;
        return ((Sub + sub + 1) << (exponent - SubBits)) - 1;
    }
}
