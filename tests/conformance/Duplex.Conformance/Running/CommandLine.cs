using System.Text;

namespace Duplex.Conformance.Running;

/// <summary>
/// Splits a client command template into arguments the way a POSIX shell would for plain words and
/// quotes ('…', "…", backslash), without running a shell. Going without a shell means the URL's
/// '&amp;' and '?' need no quoting, and the process the harness starts (and may kill) is the client itself.
/// </summary>
internal static class CommandLine
{
    public static List<string> Split(string command)
    {
        var arguments = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quote == '\'')
            {
                if (c == '\'')
                {
                    quote = '\0';
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (quote == '"')
            {
                if (c == '"')
                {
                    quote = '\0';
                }
                else if (c == '\\' && i + 1 < command.Length && command[i + 1] is '"' or '\\' or '$' or '`')
                {
                    current.Append(command[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    arguments.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                inWord = true;
                if (c is '\'' or '"')
                {
                    quote = c;
                }
                else if (c == '\\' && i + 1 < command.Length)
                {
                    current.Append(command[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }
        }
        if (quote != '\0')
        {
            throw new ArgumentException($"unbalanced {quote} in client command: {command}");
        }
        if (inWord)
        {
            arguments.Add(current.ToString());
        }
        return arguments;
    }
}
