using Duplex.Fuzz;

namespace Duplex.Tests.Fuzz;

/// <summary>
/// Every committed seed (tests/fuzz/corpus/&lt;target&gt;/) and every input a fuzzer once crashed on
/// (tests/fuzz/regressions/&lt;target&gt;/), replayed through the same target code scripts/fuzz.sh fuzzes, here
/// uninstrumented: a target lets any exception but the documented ones escape, so a crash found once stays fixed.
/// </summary>
public class FuzzCorpusReplayTests
{
    private static readonly string FuzzDir = FindFuzzDir();

    private static string FindFuzzDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fuzz");
            if (Directory.Exists(Path.Combine(candidate, "corpus"))) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fuzz/corpus not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "corpus", "regressions" })
        {
            var root = Path.Combine(FuzzDir, kind);
            if (!Directory.Exists(root)) continue;
            foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
                foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                    data.Add(Path.GetFileName(dir), Path.GetRelativePath(FuzzDir, file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Replaying_a_committed_input_raises_no_undocumented_exception(string target, string file)
    {
        var run = FuzzTargets.Get(target);
        Assert.NotNull(run); // a folder under corpus/ or regressions/ names a target
        run(File.ReadAllBytes(Path.Combine(FuzzDir, file)));
    }

    [Fact]
    public void Every_target_has_a_seed_corpus()
    {
        foreach (var target in FuzzTargets.Names)
        {
            var dir = Path.Combine(FuzzDir, "corpus", target);
            Assert.True(Directory.Exists(dir) && Directory.GetFiles(dir).Length >= 3, $"{dir} needs a few seeds");
        }
    }
}
