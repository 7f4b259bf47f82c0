using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Duplex.Conformance.Cases;
using Duplex.Conformance.Reporting;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Running;

/// <summary>
/// Tests a WebSocket client: for every case it starts the client command with the case URL, accepts
/// its connection on 127.0.0.1, plays the server side of the handshake and the case, and makes sure
/// the client process is gone before the next case starts.
/// </summary>
internal sealed class FuzzingServer(int port, string clientCommand, string agent, string logPath, Action<CaseResult> progress)
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(2);

    public async Task<List<CaseResult>> RunAsync(IReadOnlyList<ConformanceCase> cases)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(16);
        await using var log = new StreamWriter(logPath, append: false) { AutoFlush = true };

        var results = new List<CaseResult>();
        var unreachable = new UnreachablePeer();
        for (int index = 0; index < cases.Count; index++)
        {
            var result = unreachable.GaveUp ? unreachable.Skip(cases[index]) : await RunCaseAsync(listener, cases[index], index + 1, log);
            unreachable.Observe(result);
            results.Add(result);
            progress(result);
        }
        return results;
    }

    private async Task<CaseResult> RunCaseAsync(Socket listener, ConformanceCase conformanceCase, int caseNumber, StreamWriter log)
    {
        DrainStaleConnections(listener);
        // Autobahn's fuzzing server numbers cases 1..N in the order it runs them; the same URL shape is used here.
        string url = $"ws://127.0.0.1:{port}/runCase?case={caseNumber}&agent={Uri.EscapeDataString(agent)}";
        var arguments = CommandLine.Split(clientCommand).Select(a => a.Replace("{url}", url, StringComparison.Ordinal)).ToList();
        await log.WriteLineAsync($"=== case {conformanceCase.Id} ({caseNumber}): {string.Join(' ', arguments)}");

        var clock = Stopwatch.StartNew();
        Process client;
        try
        {
            client = StartClient(arguments, log);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return CaseRunner.NeverOpened(conformanceCase, $"could not start the client command '{arguments[0]}': {e.Message}", clock.ElapsedMilliseconds);
        }
        using var clientProcess = client;
        var notes = new List<string>();
        CaseResult result;
        Socket? socket = null;
        try
        {
            socket = await AcceptAsync(listener, client);
            if (socket is null)
            {
                string why = client.HasExited
                    ? $"client command exited with code {client.ExitCode} without connecting"
                    : $"client did not connect within {ConnectTimeout.TotalSeconds:0} s";
                result = CaseRunner.NeverOpened(conformanceCase, why, clock.ElapsedMilliseconds);
            }
            else
            {
                HandshakeOutcome handshake;
                using (var timeout = new CancellationTokenSource(CaseRunner.HandshakeTimeout))
                {
                    try
                    {
                        handshake = await Handshake.AcceptAsync(socket, conformanceCase.AcceptExtensions, timeout.Token);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or InvalidDataException)
                    {
                        handshake = HandshakeOutcome.Failed(e is OperationCanceledException ? "no upgrade request in time" : e.Message);
                    }
                }
                result = handshake.Succeeded
                    ? await CaseRunner.RunAsync(conformanceCase, socket, HarnessRole.Server, handshake)
                    : CaseRunner.NeverOpened(conformanceCase, handshake.Error!, clock.ElapsedMilliseconds);
            }
        }
        finally
        {
            socket?.Dispose();
        }

        // The echo client should exit once the connection is closed; one that lingers is stopped.
        using var grace = new CancellationTokenSource(ExitGrace);
        try
        {
            await client.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            client.Kill(entireProcessTree: true);
            await client.WaitForExitAsync();
            notes.Add($"client process still running {ExitGrace.TotalSeconds:0} s after the case ended; killed");
        }
        await log.WriteLineAsync($"=== case {conformanceCase.Id} client exit code {client.ExitCode}");
        return notes.Count == 0 ? result : result with { Notes = [.. result.Notes, .. notes] };
    }

    private static Process StartClient(List<string> arguments, StreamWriter log)
    {
        var start = new ProcessStartInfo(arguments[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = start };
        void Forward(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
            {
                lock (log)
                {
                    log.WriteLine(e.Data);
                }
            }
        }
        process.OutputDataReceived += Forward;
        process.ErrorDataReceived += Forward;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<Socket?> AcceptAsync(Socket listener, Process client)
    {
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        var accepting = listener.AcceptAsync(timeout.Token).AsTask();
        var exited = client.WaitForExitAsync(timeout.Token);
        try
        {
            if (await Task.WhenAny(accepting, exited) == exited && !accepting.IsCompleted)
            {
                // The process is gone; give a connection it made just before exiting a moment to show up.
                await Task.WhenAny(accepting, Task.Delay(200));
            }
            if (accepting.IsCompletedSuccessfully)
            {
                var socket = accepting.Result;
                socket.NoDelay = true;
                return socket;
            }
            await timeout.CancelAsync();
            return null;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Closes connections left in the backlog by an earlier client (e.g. a reconnect attempt), so they are not taken for this case's.</summary>
    private static void DrainStaleConnections(Socket listener)
    {
        while (listener.Poll(0, SelectMode.SelectRead))
        {
            listener.Accept().Dispose();
        }
    }
}
