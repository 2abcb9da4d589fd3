"""What each address is, which of ours a peer may be told, the order a
peer's addresses are dialled in, and the public address two peers agree on."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.net.addresses import (
    MAX_OBSERVATIONS,
    MAX_SHARED,
    OBSERVED_TTL_SECONDS,
    RELAYED_KEPT,
    ObservedAddresses,
    Scope,
    capped,
    classify,
    dial_order,
    endpoint,
    expand,
    for_links,
    for_peer,
    shareable,
)

ID = "12D3KooWJT5NJPFxhkyZqGmVF628s1fsGtQ8ueezEH4W7TxK79Rq"
LAN = [ipaddress.ip_interface("127.0.0.1/8"), ipaddress.ip_interface("::1/128"),
       ipaddress.ip_interface("192.168.1.20/24"), ipaddress.ip_interface("fe80::1/64"),
       ipaddress.ip_interface("2001:db8:5::20/64")]


def test_each_kind_of_address_is_told_apart() -> None:
    assert classify(f"/ip4/127.0.0.1/tcp/4141/p2p/{ID}") is Scope.LOOPBACK
    assert classify("/ip6/::1/tcp/4141") is Scope.LOOPBACK
    assert classify("/ip4/0.0.0.0/tcp/4141") is Scope.WILDCARD
    assert classify("/ip6/::/tcp/4141") is Scope.WILDCARD
    assert classify("/ip4/169.254.3.4/tcp/4141") is Scope.LINK_LOCAL
    assert classify("/ip6/fe80::1/tcp/4141") is Scope.LINK_LOCAL
    assert classify("/ip4/192.168.1.2/tcp/4141") is Scope.PRIVATE
    assert classify("/ip4/100.64.1.2/tcp/4141") is Scope.PRIVATE  # carrier NAT
    assert classify("/ip6/fd00::2/tcp/4141") is Scope.PRIVATE
    assert classify("/ip4/8.8.8.8/tcp/4141") is Scope.PUBLIC
    assert classify("/ip4/203.0.113.11/tcp/4141") is Scope.PUBLIC  # documentation ranges: the lab's internet
    assert classify("/ip6/2a00:1450::1/tcp/4141") is Scope.PUBLIC
    assert classify(f"/ip4/8.8.8.8/tcp/4141/p2p/{ID}/p2p-circuit/p2p/{ID}") is Scope.RELAYED
    assert classify("/dns4/example.org/tcp/4141") is Scope.OTHER
    assert classify("/ip4/1.2.3/tcp/4141") is Scope.OTHER
    assert classify("/ip6/1.2.3.4/tcp/4141") is Scope.OTHER  # a v4 address under /ip6


def test_wildcards_are_spelled_out_per_interface_of_their_family_without_link_local() -> None:
    expanded = expand([f"/ip4/0.0.0.0/tcp/4141/p2p/{ID}", f"/ip6/::/tcp/4242/p2p/{ID}"], LAN)
    assert expanded == [f"/ip4/127.0.0.1/tcp/4141/p2p/{ID}", f"/ip4/192.168.1.20/tcp/4141/p2p/{ID}",
                        f"/ip6/::1/tcp/4242/p2p/{ID}", f"/ip6/2001:db8:5::20/tcp/4242/p2p/{ID}"]
    assert expand(["/ip4/10.0.0.5/tcp/1"], LAN) == ["/ip4/10.0.0.5/tcp/1"]


def test_links_never_carry_loopback_wildcard_or_link_local_unless_loopback_is_all_there_is() -> None:
    ours = ["/ip4/127.0.0.1/tcp/1", "/ip4/0.0.0.0/tcp/1", "/ip6/fe80::1/tcp/1", "/ip4/192.168.1.20/tcp/1",
            "/ip4/8.8.8.8/tcp/1"]
    assert for_links(ours) == ["/ip4/192.168.1.20/tcp/1", "/ip4/8.8.8.8/tcp/1"]
    assert for_links(["/ip4/127.0.0.1/tcp/1", "/ip4/0.0.0.0/tcp/2"]) == ["/ip4/127.0.0.1/tcp/1"]


def test_loopback_is_told_only_to_a_peer_on_this_machine() -> None:
    ours = ["/ip4/127.0.0.1/tcp/1", "/ip4/192.168.1.20/tcp/1"]
    assert for_peer(ours, peer_over_loopback=False) == ["/ip4/192.168.1.20/tcp/1"]
    assert for_peer(ours, peer_over_loopback=True) == ["/ip4/192.168.1.20/tcp/1", "/ip4/127.0.0.1/tcp/1"]
    assert for_peer(["/ip4/127.0.0.1/tcp/1"], peer_over_loopback=False) == []


def test_a_peers_addresses_are_dialled_lan_first_then_public_ipv6_ipv4_and_relayed_last() -> None:
    given_order = [
        f"/ip4/1.2.3.4/tcp/1/p2p/{ID}/p2p-circuit/p2p/{ID}",
        "/ip4/8.8.8.8/tcp/1",
        "/ip6/2a00:1450::1/tcp/1",
        "/ip4/10.9.9.9/tcp/1",  # a private network we are not on
        "/ip4/192.168.1.33/tcp/1",  # our LAN
        "/ip4/0.0.0.0/tcp/1",
        "/ip6/fe80::2/tcp/1",
        "/dns4/x.example/tcp/1",
    ]
    assert dial_order(given_order, LAN) == [
        "/ip4/192.168.1.33/tcp/1", "/ip4/10.9.9.9/tcp/1", "/ip6/2a00:1450::1/tcp/1", "/ip4/8.8.8.8/tcp/1",
        f"/ip4/1.2.3.4/tcp/1/p2p/{ID}/p2p-circuit/p2p/{ID}"]


addresses = st.one_of(
    st.text(max_size=80),
    st.builds(lambda ip, port, tail: f"/ip4/{ip}/tcp/{port}{tail}", st.ip_addresses(v=4),
              st.integers(-5, 70000), st.sampled_from(["", f"/p2p/{ID}", "/p2p-circuit", "/x"])),
    st.builds(lambda ip, port: f"/ip6/{ip}/tcp/{port}", st.ip_addresses(v=6), st.integers(0, 65535)),
)


@given(st.lists(addresses, max_size=12))
def test_whatever_a_peer_sends_sharing_never_passes_on_a_useless_address(texts: list[str]) -> None:
    for address in shareable(texts, loopback=False) + for_links(texts):
        assert classify(address) in (Scope.PRIVATE, Scope.PUBLIC, Scope.RELAYED) or (
            classify(address) is Scope.LOOPBACK and not shareable(texts, loopback=False))
    for address in dial_order(texts, LAN):
        assert classify(address) in (Scope.LOOPBACK, Scope.PRIVATE, Scope.PUBLIC, Scope.RELAYED)


@given(addresses)
def test_parsing_any_text_gives_an_endpoint_or_none_and_never_raises(text: str) -> None:
    found = endpoint(text)
    if found is not None:
        assert 0 <= found.port <= 65535
        # an IPv4-mapped IPv6 address is read as the IPv4 address it is
        assert text.startswith(f"/ip{found.ip.version}/") or text.startswith("/ip6/")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_public_address_counts_once_two_peers_at_different_ips_report_it_and_lapses_later() -> None:
    clock = _Clock()
    observed = ObservedAddresses(clock)
    assert not observed.record("203.0.113.7", "/ip4/198.51.100.4/tcp/50123")
    assert not observed.record("203.0.113.7", "/ip4/198.51.100.4/tcp/50999")  # the same observer again
    assert observed.addresses([(4, 4141)]) == []
    assert observed.record("203.0.113.8", "/ip4/198.51.100.4/tcp/50777")
    # Each saw another outgoing port: our listen port is what a peer dials.
    assert observed.addresses([(4, 4141), (6, 4141)]) == ["/ip4/198.51.100.4/tcp/4141"]
    clock.now += OBSERVED_TTL_SECONDS + 1
    assert observed.addresses([(4, 4141)]) == []


def test_two_peers_seeing_the_same_remapped_port_make_that_port_ours_too() -> None:
    observed = ObservedAddresses(_Clock())
    observed.record("203.0.113.7", "/ip4/198.51.100.4/tcp/14141")
    observed.record("203.0.113.8", "/ip4/198.51.100.4/tcp/14141")
    assert observed.addresses([(4, 4141)]) == ["/ip4/198.51.100.4/tcp/4141", "/ip4/198.51.100.4/tcp/14141"]


def test_reports_of_private_loopback_or_garbage_addresses_and_floods_change_nothing() -> None:
    observed = ObservedAddresses(_Clock())
    for observer in ("203.0.113.7", "203.0.113.8"):
        assert not observed.record(observer, "/ip4/192.168.1.20/tcp/4141")
        assert not observed.record(observer, "/ip4/127.0.0.1/tcp/4141")
        assert not observed.record(observer, "not an address")
    assert not observed.record("not an ip", "/ip4/198.51.100.4/tcp/1")
    for n in range(MAX_OBSERVATIONS * 2):  # one stranger naming many addresses
        observed.record("203.0.113.9", f"/ip4/198.51.{n // 250}.{n % 250 + 1}/tcp/1")
    assert observed.addresses([(4, 4141)]) == []
    assert len(observed._seen) <= MAX_OBSERVATIONS


RELAY = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"
MANY_DIRECT = [f"/ip4/192.168.{i}.20/tcp/4141/p2p/{ID}" for i in range(6)] + [
    f"/ip4/203.0.113.{i}/tcp/4141/p2p/{ID}" for i in range(4)] + [f"/ip6/2001:db8:{i}::20/tcp/4141/p2p/{ID}"
                                                               for i in range(3)]
OUR_RELAYED = [f"/ip4/198.51.100.{i}/tcp/4001/p2p/{RELAY}/p2p-circuit/p2p/{ID}" for i in range(3)]


def test_a_laptop_with_many_direct_addresses_still_puts_its_relayed_ones_in_links_and_hellos() -> None:
    """Review finding 4: relayed addresses rank last, so a cut to 8 dropped
    them for a laptop with 8 or more direct addresses: its friend behind
    another NAT then had no way in."""
    ours = MANY_DIRECT + OUR_RELAYED
    for told in (for_links(ours), for_peer(ours, peer_over_loopback=False)):
        assert len(told) == MAX_SHARED
        assert told[-RELAYED_KEPT:] == OUR_RELAYED[:RELAYED_KEPT]  # still last: the best are dialled first
        assert told[:-RELAYED_KEPT] == MANY_DIRECT[:MAX_SHARED - RELAYED_KEPT]


address_texts = st.one_of(
    st.builds(lambda a, b, p: f"/ip4/{a}.{b}.0.1/tcp/{p}", st.integers(0, 255), st.integers(0, 255),
              st.integers(1, 65535)),
    st.builds(lambda a, p: f"/ip4/203.0.113.{a}/tcp/{p}/p2p/{RELAY}/p2p-circuit/p2p/{ID}", st.integers(0, 255),
              st.integers(1, 65535)),
    st.text(max_size=40),
)


@given(st.lists(address_texts, max_size=40), st.integers(0, 20), st.integers(0, 4))
def test_a_cut_keeps_order_size_and_up_to_its_share_of_relayed_addresses(addresses: list[str], n: int,
                                                                         relayed: int) -> None:
    kept = capped(addresses, n, relayed=relayed)
    unique = list(dict.fromkeys(addresses))
    assert len(kept) == min(n, len(unique))
    assert kept == [a for a in unique if a in kept]  # a subsequence: order kept
    relayed_given = [a for a in unique if classify(a) is Scope.RELAYED]
    relayed_kept = [a for a in kept if classify(a) is Scope.RELAYED]
    assert relayed_kept[:min(relayed, n, len(relayed_given))] == relayed_given[:min(relayed, n, len(relayed_given))]
