using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Duplex.Conformance.Cases;
using Duplex.Conformance.Reporting;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Running;

/// <summary>Tests a WebSocket server: one fresh TCP connection and opening handshake per case.</summary>
internal sealed class FuzzingClient(Uri url, Action<CaseResult> progress)
{
    public string? Agent { get; private set; }

    public async Task<List<CaseResult>> RunAsync(IReadOnlyList<ConformanceCase> cases)
    {
        var results = new List<CaseResult>();
        var unreachable = new UnreachablePeer();
        foreach (var conformanceCase in cases)
        {
            var result = unreachable.GaveUp ? unreachable.Skip(conformanceCase) : await RunCaseAsync(conformanceCase);
            unreachable.Observe(result);
            results.Add(result);
            progress(result);
        }
        return results;
    }

    private async Task<CaseResult> RunCaseAsync(ConformanceCase conformanceCase)
    {
        var clock = Stopwatch.StartNew();
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            HandshakeOutcome handshake;
            using (var timeout = new CancellationTokenSource(CaseRunner.HandshakeTimeout))
            {
                try
                {
                    var address = IPAddress.TryParse(url.Host, out var literal) ? literal : (await Dns.GetHostAddressesAsync(url.Host, timeout.Token))[0];
                    await socket.ConnectAsync(new IPEndPoint(address, url.Port), timeout.Token);
                    handshake = await Handshake.ConnectAsync(socket, url, conformanceCase.ExtensionOffer, timeout.Token);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or InvalidDataException)
                {
                    handshake = HandshakeOutcome.Failed(e is OperationCanceledException ? $"no handshake within {CaseRunner.HandshakeTimeout.TotalSeconds:0} s" : e.Message);
                }
            }
            if (handshake.Succeeded && handshake.NegotiatedExtensions is { } response && conformanceCase.ExtensionOffer is { } offer
                && Deflate.DeflateAgreement.CheckResponse(offer, response, out var responseError) is null)
            {
                // RFC 6455 §4.1 and RFC 7692 §7.1: a client fails the connection on a response it cannot accept.
                handshake = HandshakeOutcome.Failed($"invalid Sec-WebSocket-Extensions response: {responseError}", handshake.PeerHead);
            }
            if (!handshake.Succeeded)
            {
                return CaseRunner.NeverOpened(conformanceCase, handshake.Error!, clock.ElapsedMilliseconds);
            }
            Agent ??= handshake.PeerHead?.Header("Server");
            return await CaseRunner.RunAsync(conformanceCase, socket, HarnessRole.Client, handshake);
        }
        finally
        {
            socket.Dispose();
        }
    }
}
