using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Duplex.Conformance.Cases;
using Duplex.Conformance.Judging;

namespace Duplex.Conformance.Reporting;

/// <summary>Writes report.json and summary.md for a run and the one-line-per-chapter console summary.</summary>
internal static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Payload previews contain arbitrary characters; keep them readable rather than \u-escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public sealed record RunInfo(string Mode, string Target, string? Agent, bool FullSize, DateTimeOffset Started, long DurationMs);

    public static void Write(string directory, RunInfo run, IReadOnlyList<CaseResult> results)
    {
        Directory.CreateDirectory(directory);
        var chapters = Summarise(results);
        var report = new
        {
            tool = "Duplex.Conformance",
            mode = run.Mode,
            target = run.Target,
            agent = run.Agent,
            fullSize = run.FullSize,
            started = run.Started,
            durationMs = run.DurationMs,
            failed = results.Count(r => Verdict.IsFailure(r.Behavior, r.BehaviorClose)),
            chapters,
            cases = results,
        };
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(report, Json));
        File.WriteAllText(Path.Combine(directory, "summary.md"), Markdown(run, chapters, results));
    }

    public static IEnumerable<string> ConsoleLines(IReadOnlyList<CaseResult> results) =>
        Summarise(results).Select(c =>
            $"chapter {c.Chapter,2} {c.Title,-20} {c.Cases,3} cases: "
            + string.Join(", ", Verdict.BehaviorOrder.Select(v => $"{v} {c.Behavior.GetValueOrDefault(v)}"))
            + " | close: " + string.Join(", ", c.Close.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {kv.Value}")));

    public sealed record ChapterSummary(int Chapter, string Title, int Cases, Dictionary<string, int> Behavior, Dictionary<string, int> Close);

    private static List<ChapterSummary> Summarise(IReadOnlyList<CaseResult> results) =>
        results.GroupBy(r => r.Chapter).OrderBy(g => g.Key).Select(g => new ChapterSummary(
            g.Key,
            CaseCatalog.ChapterTitles.GetValueOrDefault(g.Key, "?"),
            g.Count(),
            Verdict.BehaviorOrder.ToDictionary(v => v, v => g.Count(r => r.Behavior == v)),
            Verdict.CloseOrder.ToDictionary(v => v, v => g.Count(r => r.BehaviorClose == v)))).ToList();

    private static string Markdown(RunInfo run, List<ChapterSummary> chapters, IReadOnlyList<CaseResult> results)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Conformance run: {run.Mode} against {run.Target}");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- agent: {run.Agent ?? "(unknown)"}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- sizes: {(run.FullSize ? "Autobahn's full sizes" : "chapter 9 scaled down by 4 (use --full-size for Autobahn's)")}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- started: {run.Started:u}, took {run.DurationMs / 1000.0:0.0} s");
        md.AppendLine(CultureInfo.InvariantCulture, $"- cases: {results.Count}, failing: {results.Count(r => Verdict.IsFailure(r.Behavior, r.BehaviorClose))}");
        md.AppendLine();
        md.AppendLine("| Chapter | Cases | " + string.Join(" | ", Verdict.BehaviorOrder) + " | Close OK | Close not OK |");
        md.AppendLine("|---|---:|" + string.Concat(Verdict.BehaviorOrder.Select(_ => "---:|")) + "---:|---:|");
        foreach (var c in chapters)
        {
            int closeOk = c.Close[Verdict.Ok];
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {c.Chapter} {c.Title} | {c.Cases} | {string.Join(" | ", Verdict.BehaviorOrder.Select(v => c.Behavior[v]))} | {closeOk} | {c.Cases - closeOk} |");
        }
        md.AppendLine();
        var notOk = results.Where(r => r.Behavior != Verdict.Ok || r.BehaviorClose != Verdict.Ok).ToList();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Cases not OK ({notOk.Count})");
        md.AppendLine();
        if (notOk.Count == 0)
        {
            md.AppendLine("None.");
        }
        foreach (var r in notOk)
        {
            string close = r.RemoteCloseCode is null ? "no close code" : $"peer sent {r.RemoteCloseCode}";
            string handshake = r.HandshakeError is null ? "" : $" Handshake: {r.HandshakeError}.";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"- **{r.Id}** {r.Behavior} / close {r.BehaviorClose}: {r.Result} {r.ResultClose} ({close}; TCP closed by {r.TcpClosedBy ?? "nobody"}; {r.DurationMs} ms){handshake}");
        }
        var timed = results.Where(r => r.ReportTime).ToList();
        if (timed.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Timings (chapter 9)");
            md.AppendLine();
            md.AppendLine("| Case | ms | Verdict |");
            md.AppendLine("|---|---:|---|");
            foreach (var r in timed)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Id} | {r.DurationMs} | {r.Behavior} |");
            }
        }
        return md.ToString();
    }
}
