using System.Globalization;
using System.Runtime.InteropServices;

namespace Duplex.Cli;

/// <summary>
/// Reads a server process's CPU time (utime+stime, /proc/&lt;pid&gt;/stat fields 14 and 15) and resident
/// memory (VmRSS in /proc/&lt;pid&gt;/status), so CPU per message covers exactly the measured window.
/// </summary>
internal sealed partial class BenchServerProbe(int pid)
{
    private static readonly long s_ticksPerSecond = ReadClockTicks();

    public int Pid { get; } = pid;

    public readonly record struct Sample(double CpuMicroseconds, long RssKiB, long Timestamp);

    public Sample Read()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        // The command name (field 2) is in parentheses and may hold spaces; count fields after it.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        long stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        long rss = 0;
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            break;
        }
        return new Sample((utime + stime) * 1e6 / s_ticksPerSecond, rss, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    public static string? Check(int pid) => File.Exists($"/proc/{pid}/stat") ? null : $"no process {pid} in /proc";

    private static long ReadClockTicks()
    {
        try
        {
            long ticks = sysconf(ScClkTck);
            return ticks > 0 ? ticks : 100;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100; // USER_HZ on every mainstream Linux build
        }
    }

    private const int ScClkTck = 2; // _SC_CLK_TCK in glibc and musl

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long sysconf(int name);
}
