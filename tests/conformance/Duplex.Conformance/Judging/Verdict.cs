namespace Duplex.Conformance.Judging;

/// <summary>
/// The verdict vocabulary, spelled as Autobahn spells it so reports can be compared side by side.
/// <see cref="Behavior"/> verdicts judge what was exchanged; the close-only verdicts judge how the
/// connection ended.
/// </summary>
internal static class Verdict
{
    public const string Ok = "OK";
    public const string NonStrict = "NON-STRICT";
    public const string Informational = "INFORMATIONAL";
    public const string Unimplemented = "UNIMPLEMENTED";
    public const string Failed = "FAILED";

    // Close behaviour only.
    public const string WrongCode = "WRONG CODE";
    public const string Unclean = "UNCLEAN";
    public const string FailedByClient = "FAILED BY CLIENT";

    /// <summary>Verdicts that make a run fail (exit code 1).</summary>
    public static bool IsFailure(string behavior, string behaviorClose) =>
        behavior == Failed || behaviorClose is Failed or Unclean;

    public static readonly string[] BehaviorOrder = [Ok, NonStrict, Informational, Unimplemented, Failed];
    public static readonly string[] CloseOrder = [Ok, Informational, WrongCode, FailedByClient, Unclean, Failed];
}
