using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex serve --metrics</c>: listens to the "Duplex" meter in-process and logs the totals every
/// few seconds. (Out of process, <c>dotnet-counters monitor --counters Duplex -n Duplex.Cli</c> reads the same meter.)
/// </summary>
internal sealed class MetricsReporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _totals = new();
    private readonly Timer _timer;

    public MetricsReporter(ILogger log, TimeSpan period)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == DuplexMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name + ".last", value, (_, _) => value));
        _listener.Start();
        _timer = new Timer(_ => log.LogInformation("metrics: {Metrics}", Format()), null, period, period);
    }

    private string Format() => string.Join(", ", _totals.OrderBy(p => p.Key).Select(p => $"{p.Key.Replace("duplex.", "")}={p.Value:0.###}"));

    public void Dispose()
    {
        _timer.Dispose();
        _listener.Dispose();
    }
}
