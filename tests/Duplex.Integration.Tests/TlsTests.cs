using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

/// <summary>wss:// with a self-signed certificate the test creates.</summary>
public class TlsTests
{
    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Kestrel needs the private key in a form SslStream can use on Linux: round-trip through PFX.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    private static Task<TestServer> StartAsync(X509Certificate2 certificate) =>
        TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }), certificate);

    [Fact]
    public async Task Wss_echo_works_when_the_client_trusts_the_certificate()
    {
        using var certificate = CreateCertificate();
        await using var server = await StartAsync(certificate);
        string? sniSeen = null;
        var options = new WebSocketClientOptions
        {
            RemoteCertificateValidationCallback = (sender, cert, _, _) =>
            {
                sniSeen = (sender as System.Net.Security.SslStream)?.TargetHostName;
                return cert is not null && cert.GetCertHashString() == certificate.GetCertHashString();
            },
        };
        var uri = new Uri($"wss://localhost:{server.BaseUri.Port}/echo");
        await using var client = await WebSocketClient.ConnectAsync(uri, options);
        await client.SendTextAsync("secret");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            Assert.Equal("secret", m.Text);
            break;
        }
        Assert.Equal("localhost", sniSeen);
        var big = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        await client.SendBinaryAsync(big);
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            Assert.Equal(big, m.ToArray());
            break;
        }
        await client.CloseAsync();
        Assert.Equal(Duplex.Protocol.CloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Wss_fails_when_the_certificate_is_not_trusted()
    {
        using var certificate = CreateCertificate();
        await using var server = await StartAsync(certificate);
        var uri = new Uri($"wss://localhost:{server.BaseUri.Port}/echo");
        await Assert.ThrowsAsync<AuthenticationException>(() => WebSocketClient.ConnectAsync(uri));
    }
}
