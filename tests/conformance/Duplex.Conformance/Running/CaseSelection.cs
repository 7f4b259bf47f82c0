using System.Text.RegularExpressions;
using Duplex.Conformance.Cases;

namespace Duplex.Conformance.Running;

/// <summary>
/// Parses case lists such as <c>1-7,9,10</c> or <c>1.1.1,6.4.*</c>: a range of chapters, a chapter
/// or section (every case under it), an exact case id, or a prefix ending in <c>*</c>.
/// </summary>
internal static partial class CaseSelection
{
    public const string Default = "1-7,9,10";

    public static IReadOnlyList<ConformanceCase> Select(IReadOnlyList<ConformanceCase> all, string include, string? exclude)
    {
        var included = Matching(all, include);
        var excluded = exclude is null ? [] : Matching(all, exclude).ToHashSet();
        return all.Where(c => included.Contains(c) && !excluded.Contains(c)).ToList();
    }

    private static HashSet<ConformanceCase> Matching(IReadOnlyList<ConformanceCase> all, string spec)
    {
        var selected = new HashSet<ConformanceCase>();
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Func<ConformanceCase, bool> predicate;
            var range = ChapterRange().Match(raw);
            if (range.Success)
            {
                int from = int.Parse(range.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                int to = int.Parse(range.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                predicate = c => c.Chapter >= from && c.Chapter <= to;
            }
            else if (raw.EndsWith('*'))
            {
                string prefix = raw.TrimEnd('*');
                predicate = c => c.Id.StartsWith(prefix, StringComparison.Ordinal);
            }
            else
            {
                predicate = c => c.Id == raw || c.Id.StartsWith(raw + ".", StringComparison.Ordinal);
            }
            var matches = all.Where(predicate).ToList();
            if (matches.Count == 0)
            {
                throw new ArgumentException($"'{raw}' matches no case.");
            }
            selected.UnionWith(matches);
        }
        return selected;
    }

    [GeneratedRegex(@"^(\d+)-(\d+)$")]
    private static partial Regex ChapterRange();
}
