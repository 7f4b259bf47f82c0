namespace Duplex.Cli;

/// <summary>Just enough option parsing: --name value, repeated options, flags, positionals.</summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    public Arguments(string[] args, IReadOnlySet<string> flagNames)
    {
        for (int i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                Positionals.Add(arg);
                continue;
            }
            var eq = arg.IndexOf('=');
            var name = eq > 0 ? arg[2..eq] : arg[2..];
            if (flagNames.Contains(name))
            {
                _flags.Add(name);
                continue;
            }
            string value;
            if (eq > 0) value = arg[(eq + 1)..];
            else if (i + 1 < args.Length) value = args[++i];
            else throw new ArgumentException($"option --{name} needs a value");
            if (!_options.TryGetValue(name, out var list)) _options[name] = list = [];
            list.Add(value);
        }
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string? Get(string name) => _options.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> All(string name) => _options.TryGetValue(name, out var v) ? v : [];

    public int GetInt(string name, int fallback) =>
        Get(name) is { } s ? int.TryParse(s, out var n) ? n : throw new ArgumentException($"--{name} must be a number") : fallback;

    public IEnumerable<string> Unknown(IReadOnlySet<string> known) => _options.Keys.Where(k => !known.Contains(k));
}
