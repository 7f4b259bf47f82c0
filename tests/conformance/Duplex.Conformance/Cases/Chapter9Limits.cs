using Duplex.Conformance.Judging;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 9, limits and performance: large messages (9.1, 9.2), large messages in many fragments
/// (9.3, 9.4), large frames chopped into small socket writes (9.5, 9.6) and round-trip time
/// for many small messages (9.7, 9.8). Durations are reported; correctness is judged on the echo.
/// </summary>
internal static class Chapter9Limits
{
    private const int KiB = 1024;
    private const int MiB = 1024 * 1024;

    public static IEnumerable<ConformanceCase> Cases(CaseSizes sizes)
    {
        int[] messageSizes = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB];
        double[] messageWaits = [10, 10, 10, 100, 100, 100];
        for (int i = 0; i < messageSizes.Length; i++)
        {
            yield return LargeMessage($"9.1.{i + 1}", sizes, binary: false, sizes.Bytes(messageSizes[i]), messageSizes[i], chop: 0, sizes.WaitSeconds(messageWaits[i]));
        }
        for (int i = 0; i < messageSizes.Length; i++)
        {
            yield return LargeMessage($"9.2.{i + 1}", sizes, binary: true, sizes.Bytes(messageSizes[i]), messageSizes[i], chop: 0, sizes.WaitSeconds(messageWaits[i]));
        }

        int[] fragmentSizes = [64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB];
        foreach (var (section, binary) in new[] { (3, false), (4, true) })
        {
            for (int i = 0; i < fragmentSizes.Length; i++)
            {
                yield return Fragmented($"9.{section}.{i + 1}", sizes, binary, sizes.Bytes(4 * MiB), sizes.Bytes(fragmentSizes[i]), sizes.WaitSeconds(100));
            }
        }

        int[] chopSizes = [64, 128, 256, 512, 1024, 2048];
        foreach (var (section, binary) in new[] { (5, false), (6, true) })
        {
            for (int i = 0; i < chopSizes.Length; i++)
            {
                // Chop sizes are about TCP segmentation, so they stay as Autobahn has them; only the message shrinks.
                yield return LargeMessage($"9.{section}.{i + 1}", sizes, binary, sizes.Bytes(1 * MiB), 1 * MiB, chopSizes[i], sizes.WaitSeconds(1000));
            }
        }

        (int Length, double Wait)[] roundTrips = [(0, 60), (16, 60), (64, 60), (256, 120), (1024, 240), (4096, 480)];
        foreach (var (section, binary) in new[] { (7, false), (8, true) })
        {
            for (int i = 0; i < roundTrips.Length; i++)
            {
                yield return RoundTrips($"9.{section}.{i + 1}", binary, roundTrips[i].Length, sizes.Count(1000), sizes.WaitSeconds(roundTrips[i].Wait));
            }
        }
    }

    private static byte[] Pattern(bool binary) => binary ? [0x00, 0xFE, 0x23, 0xFA, 0xF0] : "BAsd7&jh23"u8.ToArray();

    private static ConformanceCase LargeMessage(string id, CaseSizes sizes, bool binary, int length, int autobahnLength, int chop, double wait)
    {
        string kind = binary ? "binary" : "text";
        string description = $"Send a {kind} message of {Payload.Size(length)} in one frame"
            + (chop > 0 ? $", written in pieces of {chop} octets" : "")
            + (sizes.FullSize ? "." : $" (Autobahn: {Payload.Size(autobahnLength)}).");
        return new ConformanceCase(id, description, $"The {kind} message is echoed unchanged within {wait:0} s; clean close with 1000.", s =>
        {
            var payload = FrameBuilder.Repeat(Pattern(binary), length);
            AwaitEcho(s, payload, binary, wait);
            s.SendFrame(binary ? Opcode.Binary : Opcode.Text, payload, chopSize: chop);
        })
        { ReportTime = true, HardLimit = TimeSpan.FromSeconds(wait + 5) };
    }

    private static ConformanceCase Fragmented(string id, CaseSizes sizes, bool binary, int length, int fragment, double wait)
    {
        string kind = binary ? "binary" : "text";
        string description = $"Send a {kind} message of {Payload.Size(length)} in fragments of {Payload.Size(fragment)}"
            + (sizes.FullSize ? "." : " (Autobahn: 4 times both sizes).");
        return new ConformanceCase(id, description, $"The reassembled {kind} message is echoed unchanged within {wait:0} s; clean close with 1000.", s =>
        {
            var payload = Payload.Filled(binary ? (byte)0xFE : (byte)'*', length);
            AwaitEcho(s, payload, binary, wait);
            s.SendMessage(payload, binary, fragment);
        })
        { ReportTime = true, HardLimit = TimeSpan.FromSeconds(wait + 5) };
    }

    /// <summary>Judges the first message that comes back, then closes; a missing echo leaves the case FAILED when the wait ends.</summary>
    private static void AwaitEcho(CaseSession s, byte[] payload, bool binary, double wait)
    {
        string kind = binary ? "binary" : "text";
        s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
        s.Outcome.Result = $"No echo within {wait:0} s.";
        s.MessageHandler = (echo, echoBinary) =>
        {
            if (echoBinary != binary)
            {
                s.Outcome.Result = $"Expected a {kind} message, got the other type.";
            }
            else if (echo.Length != payload.Length)
            {
                s.Outcome.Result = $"Expected {payload.Length} octets, got {echo.Length}.";
            }
            else if (!echo.AsSpan().SequenceEqual(payload))
            {
                // Autobahn only compares lengths here; comparing the octets catches corrupting peers too.
                s.Outcome.Result = $"Echo has the right length but differs at octet {echo.AsSpan().CommonPrefixLength(payload)}.";
            }
            else
            {
                s.Outcome.Behavior = Verdict.Ok;
                s.Outcome.Result = $"Received the {kind} message of {echo.Length} octets unchanged.";
            }
            s.SendClose(CloseCode.Normal);
        };
        s.CloseAfter(wait);
    }

    private static ConformanceCase RoundTrips(string id, bool binary, int length, int count, double wait)
    {
        string kind = binary ? "binary" : "text";
        return new ConformanceCase(id, $"Send {count} {kind} messages of {length} octets one after the other, each after the previous echo, to measure round-trip time.",
            $"Every message is echoed with the same type and length within {wait:0} s in total; clean close with 1000.", s =>
            {
                var payload = Payload.Filled(binary ? (byte)0xFE : (byte)'*', length);
                int sent = 0;
                void SendOne()
                {
                    s.SendFrame(binary ? Opcode.Binary : Opcode.Text, payload);
                    sent++;
                }

                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.Outcome.Result = $"The {count} round trips did not finish within {wait:0} s.";
                s.MessageHandler = (echo, echoBinary) =>
                {
                    if (echoBinary != binary || !echo.AsSpan().SequenceEqual(payload))
                    {
                        s.Outcome.Behavior = Verdict.Failed;
                        s.Outcome.Result = $"Echo {sent} differs from what was sent (binary = {echoBinary}, {echo.Length} octets).";
                        s.SendClose(CloseCode.Normal);
                    }
                    else if (sent < count)
                    {
                        SendOne();
                    }
                    else
                    {
                        s.Outcome.Behavior = Verdict.Ok;
                        s.Outcome.Result = $"All {count} messages were echoed.";
                        s.SendClose(CloseCode.Normal);
                    }
                };
                s.CloseAfter(wait);
                SendOne();
            })
        { ReportTime = true, HardLimit = TimeSpan.FromSeconds(wait + 5) };
    }
}
