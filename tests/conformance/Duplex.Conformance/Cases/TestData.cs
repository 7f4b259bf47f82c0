namespace Duplex.Conformance.Cases;

/// <summary>
/// The payload files of Autobahn's compression chapters, read at run time: by default from the
/// repository's <c>tests/conformance/testdata</c>, found by walking up from the working directory and
/// from the harness binary, or from the folder given with <c>--testdata</c>.
/// </summary>
internal static class TestData
{
    public const string FolderName = "tests/conformance/testdata";

    private static readonly Dictionary<string, byte[]> Loaded = [];

    /// <summary>The folder in use; set by <see cref="Locate"/>.</summary>
    public static string? Directory { get; private set; }

    /// <summary>Finds the folder (or checks the one given) and returns an error text when it is not usable.</summary>
    public static string? Locate(string? given)
    {
        if (given is not null)
        {
            Directory = Path.GetFullPath(given);
            return System.IO.Directory.Exists(Directory) ? null : $"--testdata: no folder '{Directory}'";
        }
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, FolderName);
                if (System.IO.Directory.Exists(candidate))
                {
                    Directory = candidate;
                    return null;
                }
            }
        }
        return $"the compression chapters need Autobahn's payload files: no '{FolderName}' above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}; pass --testdata DIR";
    }

    public static byte[] Read(string file)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(file, out var data))
            {
                data = File.ReadAllBytes(Path.Combine(Directory ?? throw new InvalidOperationException("TestData.Locate was not called"), file));
                Loaded[file] = data;
            }
            return data;
        }
    }
}
