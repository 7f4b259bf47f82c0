using System.Security.Cryptography;
using Duplex.Conformance.Deflate;
using Duplex.Conformance.Judging;

namespace Duplex.Conformance.Cases;

/// <summary>A payload file of the compression chapters and how Autobahn sends it.</summary>
internal sealed record TestFile(string File, string Title, bool Binary);

/// <summary>
/// The script shared by chapters 12 and 13, as Autobahn runs them: with permessage-deflate agreed,
/// send <c>count</c> compressed messages of <c>length</c> octets one after the other, each after the
/// previous echo, taken in turn from a payload file (wrapping at its end); every echo must equal what
/// was sent (type, length, content). A peer that declines the extension is UNIMPLEMENTED: the
/// harness closes with 1000 at once, and the close is judged as usual.
/// </summary>
internal static class CompressedEcho
{
    // (payload length, Autobahn's message count, Autobahn's case timeout in seconds, auto-fragment size).
    public static readonly (int Length, int Count, double Wait, int Fragment)[] Shapes =
    [
        (16, 1000, 60, 0), (64, 1000, 60, 0), (256, 1000, 120, 0), (1024, 1000, 240, 0),
        (4096, 1000, 480, 0), (8192, 1000, 480, 0), (16384, 1000, 480, 0), (32768, 1000, 480, 0),
        (65536, 1000, 480, 0), (131072, 1000, 480, 0),
        (8192, 1000, 480, 256), (16384, 1000, 480, 256), (32768, 1000, 480, 256), (65536, 1000, 480, 256),
        (131072, 1000, 480, 256), (131072, 1000, 480, 1024), (131072, 1000, 480, 4096), (131072, 1000, 480, 32768),
    ];

    public static IEnumerable<ConformanceCase> Section(string section, CaseSizes sizes, TestFile file, DeflateOffer[] offers, DeflateAcceptPolicy accept, string parameters)
    {
        string offerHeader = string.Join(", ", offers.Select(o => o.ToString()));
        for (int i = 0; i < Shapes.Length; i++)
        {
            var (length, autobahnCount, autobahnWait, fragment) = Shapes[i];
            int count = sizes.DeflateMessages(length, autobahnCount);
            double wait = sizes.WaitSeconds(autobahnWait);
            string description = $"Send {count} compressed {(file.Binary ? "binary" : "text")} messages of {length} octets from {file.Title} ({file.File}), "
                + $"{(fragment == 0 ? "each in one frame" : $"auto-fragmented to {fragment} octets")}{(sizes.FullSize || count == autobahnCount ? "" : $" (Autobahn: {autobahnCount} messages)")}. {parameters}";
            yield return new ConformanceCase($"{section}.{i + 1}", description,
                $"Every message is echoed with its payload as sent within {wait:0} s; clean close with 1000. UNIMPLEMENTED if the peer declines permessage-deflate.",
                s => Run(s, file, length, count, wait, fragment))
            {
                ExtensionOffer = offerHeader,
                AcceptExtensions = accept.Respond,
                RsvAllowedWhenNegotiated = 4,
                ReportTime = true,
                HardLimit = TimeSpan.FromSeconds(wait + 5),
                Adjust = ExplainFailure,
            };
        }
    }

    /// <summary>When the harness had to fail the connection (e.g. an echo it cannot inflate), say so rather than "did not finish".</summary>
    private static void ExplainFailure(Session.CaseSession s, CaseOutcome outcome)
    {
        if (s.FailedByMe && outcome.Behavior == Verdict.Failed)
        {
            outcome.Result = $"The harness failed the connection with {s.LocalCloseCode}: {s.LocalCloseReason}.";
        }
    }

    private static void Run(Session.CaseSession s, TestFile file, int length, int count, double wait, int fragment)
    {
        s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
        if (s.Compression is null)
        {
            s.Outcome.Behavior = Verdict.Unimplemented;
            s.Outcome.Result = "The peer did not agree to permessage-deflate with these parameters.";
            s.SendClose(CloseCode.Normal);
            return;
        }

        var data = TestData.Read(file.File);
        int position = 0;
        int sent = 0;
        bool finished = false;
        byte[] expectedHash = [];
        void SendOne()
        {
            // Consecutive slices of the file, wrapping at its end, as Autobahn takes them.
            int end = (position + length) % data.Length;
            byte[] message = end > position ? data[position..end] : [.. data.AsSpan(position), .. data.AsSpan(0, end)];
            position = end;
            expectedHash = SHA1.HashData(message);
            s.SendCompressedMessage(message, file.Binary, fragment);
            sent++;
        }

        s.Outcome.Result = $"Case did not finish within {wait:0} s.";
        s.MessageHandler = (echo, binary) =>
        {
            if (finished)
            {
                return;
            }
            string? problem =
                binary != file.Binary ? $"Echoed message {sent} has the wrong type (got binary {binary}, expected binary {file.Binary})."
                : echo.Length != length ? $"Echoed message {sent} has length {echo.Length}, expected {length}."
                : !SHA1.HashData(echo).AsSpan().SequenceEqual(expectedHash)
                    ? $"Echoed message {sent} differs from what was sent (SHA-1 {Convert.ToHexStringLower(SHA1.HashData(echo))}, expected {Convert.ToHexStringLower(expectedHash)})."
                : null;
            if (problem is not null)
            {
                finished = true;
                s.Outcome.Behavior = Verdict.Failed;
                s.Outcome.Result = problem;
                s.SendClose(CloseCode.Normal);
            }
            else if (sent < count)
            {
                SendOne();
            }
            else
            {
                finished = true;
                s.Outcome.Behavior = Verdict.Ok;
                s.Outcome.Result = $"Received all {count} echoed messages in time.";
                s.SendClose(CloseCode.Normal);
            }
        };
        s.CloseAfter(wait);
        SendOne();
    }
}
