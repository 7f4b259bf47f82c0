using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;

// Usage: AllocationProfile <pid> [seconds=4] [rows=20]
// Attaches to a .NET process, samples its allocations for a while, and prints the bytes allocated per
// type, largest first. The runtime reports a sample about every 100 KB allocated, naming the type of
// the object that crossed the mark, so the figures are estimates: good for what dominates, not for
// a few bytes.
if (args.Length < 1 || !int.TryParse(args[0], out int pid))
{
    Console.Error.WriteLine("usage: AllocationProfile <pid> [seconds=4] [rows=20]");
    return 1;
}
int seconds = args.Length > 1 ? int.Parse(args[1]) : 4;
int rows = args.Length > 2 ? int.Parse(args[2]) : 20;

var client = new DiagnosticsClient(pid);
var gc = new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Verbose, (long)ClrTraceEventParser.Keywords.GC);
using var session = client.StartEventPipeSession([gc], requestRundown: false);
var bytesByType = new Dictionary<string, long>();
long total = 0;
using var source = new EventPipeEventSource(session.EventStream);
source.Clr.GCAllocationTick += e =>
{
    bytesByType[e.TypeName] = bytesByType.GetValueOrDefault(e.TypeName) + e.AllocationAmount64;
    total += e.AllocationAmount64;
};
// The session ends itself after the window: Process() returns once the stream closes.
_ = Task.Run(async () =>
{
    await Task.Delay(TimeSpan.FromSeconds(seconds));
    session.Stop();
});
source.Process();

Console.WriteLine($"{total,14:N0}  bytes in {seconds} s ({total / Math.Max(seconds, 1):N0} per second), by type:");
foreach (var (type, bytes) in bytesByType.OrderByDescending(kv => kv.Value).Take(rows))
    Console.WriteLine($"{bytes,14:N0}  {type}");
return 0;
