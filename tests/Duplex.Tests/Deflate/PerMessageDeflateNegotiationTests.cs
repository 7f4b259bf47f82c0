using Duplex.Protocol.Deflate;

namespace Duplex.Tests.Deflate;

public class PerMessageDeflateNegotiationTests
{
    private static PerMessageDeflateOptions Enabled() => new() { Enabled = true };

    private static (PerMessageDeflateParameters? Agreed, string? Response) Accept(PerMessageDeflateOptions options, params string?[] headers)
    {
        bool accepted = PerMessageDeflateNegotiation.TryAcceptOffer(headers, options, out var agreed, out var response);
        Assert.Equal(accepted, agreed is not null);
        Assert.Equal(accepted, response is not null);
        return (agreed, response);
    }

    // ---- server side ----

    [Fact]
    public void Accepts_a_bare_offer_with_the_defaults()
    {
        var (agreed, response) = Accept(Enabled(), "permessage-deflate");
        Assert.Equal("permessage-deflate", response);
        Assert.Equal(new PerMessageDeflateParameters(false, false, 15, 15), agreed);
    }

    [Fact]
    public void Accepts_the_offer_browsers_send()
    {
        // Chromium and Firefox offer "permessage-deflate; client_max_window_bits".
        var (agreed, response) = Accept(Enabled(), "permessage-deflate; client_max_window_bits");
        Assert.Equal("permessage-deflate", response);
        Assert.Equal(new PerMessageDeflateParameters(false, false, 15, 15), agreed);
    }

    [Fact]
    public void Declines_every_offer_when_disabled()
    {
        Assert.Null(Accept(new PerMessageDeflateOptions(), "permessage-deflate").Agreed);
    }

    [Fact]
    public void Declines_when_no_offer_names_permessage_deflate()
    {
        Assert.Null(Accept(Enabled(), "x-webkit-deflate-frame", "foo; bar=1").Agreed);
        Assert.Null(Accept(Enabled()).Agreed);
        Assert.Null(Accept(Enabled(), (string?)null).Agreed);
    }

    [Theory]
    [InlineData("permessage-deflate; unknown_param")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
    [InlineData("permessage-deflate; client_max_window_bits; client_max_window_bits=10")]
    [InlineData("permessage-deflate; server_max_window_bits")]
    [InlineData("permessage-deflate; server_max_window_bits=7")]
    [InlineData("permessage-deflate; server_max_window_bits=16")]
    [InlineData("permessage-deflate; server_max_window_bits=09")]
    [InlineData("permessage-deflate; server_max_window_bits=010")]
    [InlineData("permessage-deflate; server_max_window_bits=ten")]
    [InlineData("permessage-deflate; server_max_window_bits=-9")]
    [InlineData("permessage-deflate; client_max_window_bits=0")]
    [InlineData("permessage-deflate; client_max_window_bits=16")]
    [InlineData("permessage-deflate; server_no_context_takeover=true")]
    [InlineData("permessage-deflate; client_no_context_takeover=1")]
    [InlineData("permessage-deflate; client_max_window_bits=\"1 0\"")]
    [InlineData("permessage-deflate; client_max_window_bits=\"\"")]
    [InlineData("permessage-deflate; client_max_window_bits=\"10")]
    [InlineData("permessage-deflate; ; client_max_window_bits")]
    [InlineData("permessage-deflate; client_max_window_bits=")]
    [InlineData("permessage-deflate client_max_window_bits")]
    public void Declines_a_malformed_offer(string offer)
    {
        Assert.Null(Accept(Enabled(), offer).Agreed);
    }

    [Fact]
    public void Skips_unacceptable_offers_and_takes_the_first_acceptable_one()
    {
        var (agreed, response) = Accept(Enabled(),
            "permessage-deflate; server_max_window_bits=16, permessage-deflate; mystery, permessage-deflate; server_max_window_bits=10, permessage-deflate");
        Assert.Equal("permessage-deflate; server_max_window_bits=10", response);
        Assert.Equal(10, agreed!.ServerMaxWindowBits);
    }

    [Fact]
    public void Reads_offers_across_several_header_lines_in_order()
    {
        var (agreed, _) = Accept(Enabled(), "foo, permessage-deflate; bogus", "permessage-deflate; client_no_context_takeover", "permessage-deflate");
        Assert.True(agreed!.ClientNoContextTakeover);
    }

    [Fact]
    public void A_quote_with_a_comma_inside_does_not_split_the_offer()
    {
        var (agreed, _) = Accept(Enabled(), "permessage-deflate; client_max_window_bits=\"1,0\", permessage-deflate; client_max_window_bits=12");
        Assert.Equal(12, agreed!.ClientMaxWindowBits);
    }

    [Fact]
    public void Accepts_quoted_values_and_odd_spacing()
    {
        var (agreed, response) = Accept(Enabled(), "  PerMessage-Deflate ;client_max_window_bits = \"10\" ;\tserver_max_window_bits=\"9\"  ,");
        Assert.Equal(new PerMessageDeflateParameters(false, false, 9, 10), agreed);
        Assert.Equal("permessage-deflate; server_max_window_bits=9; client_max_window_bits=10", response);
    }

    [Theory]
    [InlineData(15, null, 15, "permessage-deflate")]
    [InlineData(15, 10, 10, "permessage-deflate; server_max_window_bits=10")]
    [InlineData(15, 15, 15, "permessage-deflate; server_max_window_bits=15")]
    [InlineData(9, null, 9, "permessage-deflate; server_max_window_bits=9")]
    [InlineData(9, 12, 9, "permessage-deflate; server_max_window_bits=9")]
    [InlineData(12, 8, 8, "permessage-deflate; server_max_window_bits=8")]
    public void Server_window_is_the_smaller_of_the_offer_and_the_option(int option, int? offered, int expected, string expectedResponse)
    {
        var options = Enabled();
        options.ServerMaxWindowBits = option;
        var offer = offered is int b ? $"permessage-deflate; server_max_window_bits={b}" : "permessage-deflate";
        var (agreed, response) = Accept(options, offer);
        Assert.Equal(expected, agreed!.ServerMaxWindowBits);
        Assert.Equal(expectedResponse, response);
    }

    [Theory]
    [InlineData(10, "permessage-deflate", 15, "permessage-deflate")]
    [InlineData(10, "permessage-deflate; client_max_window_bits", 10, "permessage-deflate; client_max_window_bits=10")]
    [InlineData(10, "permessage-deflate; client_max_window_bits=9", 9, "permessage-deflate; client_max_window_bits=9")]
    [InlineData(15, "permessage-deflate; client_max_window_bits=11", 11, "permessage-deflate; client_max_window_bits=11")]
    [InlineData(15, "permessage-deflate; client_max_window_bits", 15, "permessage-deflate")]
    public void Client_window_is_limited_only_when_the_client_offered_client_max_window_bits(int option, string offer, int expected, string expectedResponse)
    {
        var options = Enabled();
        options.ClientMaxWindowBits = option;
        var (agreed, response) = Accept(options, offer);
        Assert.Equal(expected, agreed!.ClientMaxWindowBits);
        Assert.Equal(expectedResponse, response);
    }

    [Fact]
    public void Honours_server_no_context_takeover_when_asked_and_declares_it_when_configured()
    {
        var (asked, askedResponse) = Accept(Enabled(), "permessage-deflate; server_no_context_takeover");
        Assert.True(asked!.ServerNoContextTakeover);
        Assert.Equal("permessage-deflate; server_no_context_takeover", askedResponse);

        var options = Enabled();
        options.ServerNoContextTakeover = true;
        var (unasked, unaskedResponse) = Accept(options, "permessage-deflate");
        Assert.True(unasked!.ServerNoContextTakeover);
        Assert.Equal("permessage-deflate; server_no_context_takeover", unaskedResponse);
    }

    [Fact]
    public void Client_no_context_takeover_is_echoed_when_offered_and_required_when_configured()
    {
        var (offered, offeredResponse) = Accept(Enabled(), "permessage-deflate; client_no_context_takeover");
        Assert.True(offered!.ClientNoContextTakeover);
        Assert.Equal("permessage-deflate; client_no_context_takeover", offeredResponse);

        var options = Enabled();
        options.ClientNoContextTakeover = true;
        var (required, requiredResponse) = Accept(options, "permessage-deflate");
        Assert.True(required!.ClientNoContextTakeover);
        Assert.Equal("permessage-deflate; client_no_context_takeover", requiredResponse);
    }

    [Fact]
    public void Invalid_options_throw_rather_than_negotiate_nonsense()
    {
        var options = Enabled();
        options.ServerMaxWindowBits = 16;
        Assert.Throws<ArgumentOutOfRangeException>(() => Accept(options, "permessage-deflate"));
        Assert.Throws<ArgumentOutOfRangeException>(() => PerMessageDeflateNegotiation.CreateOffer(options));
    }

    // ---- client side ----

    [Fact]
    public void Default_offer_lets_the_server_limit_the_client_window()
    {
        Assert.Equal("permessage-deflate; client_max_window_bits", PerMessageDeflateNegotiation.CreateOffer(Enabled()));
        Assert.Null(PerMessageDeflateNegotiation.CreateOffer(new PerMessageDeflateOptions()));
    }

    [Fact]
    public void Offer_carries_every_configured_parameter()
    {
        var options = new PerMessageDeflateOptions
        {
            Enabled = true,
            ServerNoContextTakeover = true,
            ClientNoContextTakeover = true,
            ServerMaxWindowBits = 10,
            ClientMaxWindowBits = 12,
        };
        Assert.Equal(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
            PerMessageDeflateNegotiation.CreateOffer(options));
    }

    private static PerMessageDeflateParameters? ClientAccepts(PerMessageDeflateOptions offered, string? response)
    {
        Assert.True(PerMessageDeflateNegotiation.TryAcceptResponse(response, offered, out var agreed, out var error), error);
        Assert.Null(error);
        return agreed;
    }

    private static string ClientRejects(PerMessageDeflateOptions offered, string? response)
    {
        Assert.False(PerMessageDeflateNegotiation.TryAcceptResponse(response, offered, out var agreed, out var error));
        Assert.Null(agreed);
        Assert.NotNull(error);
        return error;
    }

    [Fact]
    public void A_response_without_permessage_deflate_means_no_compression()
    {
        Assert.Null(ClientAccepts(Enabled(), null));
        Assert.Null(ClientAccepts(Enabled(), ""));
        Assert.Null(ClientAccepts(Enabled(), "some-other-extension; x=1"));
    }

    [Fact]
    public void Accepts_a_bare_response_with_the_defaults()
    {
        Assert.Equal(new PerMessageDeflateParameters(false, false, 15, 15), ClientAccepts(Enabled(), "permessage-deflate"));
    }

    [Fact]
    public void Accepts_what_a_server_may_add_unasked()
    {
        var agreed = ClientAccepts(Enabled(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10");
        Assert.Equal(new PerMessageDeflateParameters(true, true, 9, 10), agreed);
    }

    [Fact]
    public void Keeps_to_its_own_offer_when_the_response_is_silent()
    {
        var options = new PerMessageDeflateOptions { Enabled = true, ClientNoContextTakeover = true, ClientMaxWindowBits = 11 };
        Assert.Equal(new PerMessageDeflateParameters(false, true, 15, 11), ClientAccepts(options, "permessage-deflate"));
    }

    [Theory]
    [InlineData("permessage-deflate; mystery")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
    [InlineData("permessage-deflate; client_max_window_bits")]
    [InlineData("permessage-deflate; client_max_window_bits=7")]
    [InlineData("permessage-deflate; server_max_window_bits")]
    [InlineData("permessage-deflate; server_max_window_bits=16")]
    [InlineData("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10")]
    [InlineData("permessage-deflate; client_no_context_takeover=yes")]
    [InlineData("permessage-deflate, permessage-deflate")]
    [InlineData("permessage-deflate; client_max_window_bits=\"1")]
    public void Rejects_a_response_the_offer_did_not_allow(string response)
    {
        ClientRejects(Enabled(), response);
    }

    [Fact]
    public void Rejects_a_client_window_larger_than_offered()
    {
        var options = new PerMessageDeflateOptions { Enabled = true, ClientMaxWindowBits = 10 };
        Assert.Contains("client_max_window_bits=12", ClientRejects(options, "permessage-deflate; client_max_window_bits=12"));
        Assert.Equal(9, ClientAccepts(options, "permessage-deflate; client_max_window_bits=9")!.ClientMaxWindowBits);
    }

    [Fact]
    public void Rejects_a_response_that_ignores_or_exceeds_the_server_window_asked_for()
    {
        var options = new PerMessageDeflateOptions { Enabled = true, ServerMaxWindowBits = 10 };
        ClientRejects(options, "permessage-deflate");
        ClientRejects(options, "permessage-deflate; server_max_window_bits=11");
        Assert.Equal(8, ClientAccepts(options, "permessage-deflate; server_max_window_bits=8")!.ServerMaxWindowBits);
    }

    [Fact]
    public void Rejects_a_response_that_ignores_server_no_context_takeover_asked_for()
    {
        var options = new PerMessageDeflateOptions { Enabled = true, ServerNoContextTakeover = true };
        ClientRejects(options, "permessage-deflate");
        Assert.True(ClientAccepts(options, "permessage-deflate; server_no_context_takeover")!.ServerNoContextTakeover);
    }

    [Fact]
    public void Rejects_permessage_deflate_it_did_not_offer()
    {
        Assert.Contains("not offered", ClientRejects(new PerMessageDeflateOptions(), "permessage-deflate"));
    }

    public static TheoryData<bool, bool, int, int> OptionCombinations() => new()
    {
        { false, false, 15, 15 },
        { true, false, 15, 15 },
        { false, true, 12, 15 },
        { true, true, 8, 8 },
        { false, false, 9, 13 },
    };

    [Theory]
    [MemberData(nameof(OptionCombinations))]
    public void Client_and_server_agree_on_the_same_parameters(bool serverNoContext, bool clientNoContext, int serverBits, int clientBits)
    {
        var clientOptions = new PerMessageDeflateOptions
        {
            Enabled = true,
            ServerNoContextTakeover = serverNoContext,
            ClientNoContextTakeover = clientNoContext,
            ServerMaxWindowBits = serverBits,
            ClientMaxWindowBits = clientBits,
        };
        var serverOptions = new PerMessageDeflateOptions { Enabled = true, ClientMaxWindowBits = 11, ServerMaxWindowBits = 12 };
        var offer = PerMessageDeflateNegotiation.CreateOffer(clientOptions);
        var (serverAgreed, response) = Accept(serverOptions, offer);
        var clientAgreed = ClientAccepts(clientOptions, response);
        Assert.Equal(serverAgreed, clientAgreed);
    }
}
