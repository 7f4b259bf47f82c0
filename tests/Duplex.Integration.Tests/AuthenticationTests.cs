using System.Security.Claims;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Duplex.Integration.Tests;

/// <summary>
/// Authentication at the handshake: ASP.NET Core's own JWT bearer scheme and RequireAuthorization()
/// on a MapWebSocket endpoint, with the token in the query string as browsers must send it.
/// </summary>
public class AuthenticationTests
{
    private static readonly SymmetricSecurityKey Key = new(Encoding.UTF8.GetBytes("duplex-test-signing-key-that-is-long-enough-1234567890"));

    private static string Token(string user, DateTime expires, SecurityKey? key = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim(ClaimTypes.Name, user)]),
            NotBefore = expires.AddHours(-2),
            IssuedAt = expires.AddHours(-2),
            Expires = expires,
            SigningCredentials = new SigningCredentials(key ?? Key, SecurityAlgorithms.HmacSha256),
        });

    private static Task<TestServer> StartAsync() => TestServer.StartAsync(app =>
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapWebSocket("/ws", c => c.SendTextAsync($"hello {c.User?.Identity?.Name}").AsTask()).RequireAuthorization();
    }, services: services =>
    {
        services.AddAuthorization();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                IssuerSigningKey = Key,
                ValidateIssuer = false,
                ValidateAudience = false,
                ClockSkew = TimeSpan.Zero,
                NameClaimType = ClaimTypes.Name,
            };
            // A browser's WebSocket cannot set headers: take the token from the query string too.
            o.Events = new JwtBearerEvents
            {
                OnMessageReceived = ctx =>
                {
                    if (ctx.Request.Query.TryGetValue("access_token", out var token)) ctx.Token = token;
                    return Task.CompletedTask;
                },
            };
        });
    });

    private static async Task<string> FirstTextAsync(WebSocketConnection c)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var m in c.ReadMessagesAsync(cts.Token)) return m.Text;
        throw new InvalidOperationException("no message");
    }

    [Fact]
    public async Task Valid_token_in_the_query_string_is_accepted_and_the_user_attached()
    {
        await using var server = await StartAsync();
        var uri = new Uri(server.WebSocketUri("/ws") + "?access_token=" + Token("alice", DateTime.UtcNow.AddMinutes(5)));
        await using var client = await WebSocketClient.ConnectAsync(uri);
        Assert.Equal("hello alice", await FirstTextAsync(client));
    }

    [Fact]
    public async Task Valid_token_in_the_authorization_header_is_accepted()
    {
        await using var server = await StartAsync();
        var options = new WebSocketClientOptions().AddHeader("Authorization", "Bearer " + Token("bob", DateTime.UtcNow.AddMinutes(5)));
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"), options);
        Assert.Equal("hello bob", await FirstTextAsync(client));
    }

    [Fact]
    public async Task Missing_token_is_refused_with_401_before_the_upgrade()
    {
        await using var server = await StartAsync();
        var ex = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/ws")));
        Assert.Equal(HandshakeCheck.Status, ex.Check);
        Assert.Equal(401, ex.StatusCode);
        Assert.Contains("Bearer", ex.Headers["WWW-Authenticate"]);
    }

    [Fact]
    public async Task Expired_token_is_refused_with_401()
    {
        await using var server = await StartAsync();
        var uri = new Uri(server.WebSocketUri("/ws") + "?access_token=" + Token("carol", DateTime.UtcNow.AddMinutes(-1)));
        var ex = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(uri));
        Assert.Equal(401, ex.StatusCode);
        Assert.Contains("expired", ex.Headers["WWW-Authenticate"]);
    }

    [Fact]
    public async Task Token_signed_with_another_key_is_refused_with_401()
    {
        await using var server = await StartAsync();
        var otherKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes("another-key-entirely-another-key-entirely-0987654321"));
        var uri = new Uri(server.WebSocketUri("/ws") + "?access_token=" + Token("mallory", DateTime.UtcNow.AddMinutes(5), otherKey));
        var ex = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(uri));
        Assert.Equal(401, ex.StatusCode);
    }

    [Fact]
    public async Task Handshake_hook_can_refuse_with_a_status_and_body_or_accept_and_attach_data()
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws",
            c => c.SendTextAsync($"tenant {c.Items["tenant"]}").AsTask(),
            o => o.OnHandshake = ctx =>
            {
                var tenant = ctx.Request.Query["tenant"].ToString();
                if (tenant.Length == 0) return ValueTask.FromResult<HandshakeDecision?>(new HandshakeDecision(403, "tenant required"));
                ctx.Items["tenant"] = tenant;
                return ValueTask.FromResult<HandshakeDecision?>(null);
            }));
        var ex = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/ws")));
        Assert.Equal(403, ex.StatusCode);
        await using var client = await WebSocketClient.ConnectAsync(new Uri(server.WebSocketUri("/ws") + "?tenant=acme"));
        Assert.Equal("tenant acme", await FirstTextAsync(client));
    }
}
