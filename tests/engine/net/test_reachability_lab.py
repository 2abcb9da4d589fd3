"""Reachability in the lab (lab.py), without UPnP: a peer behind a home
router is unreachable from outside, unless the router forwards its port
(a port forwarded by hand), which a dial-back then finds at the IP the
peer outside sees, and which is advertised from then on. A public peer is
reachable."""

from __future__ import annotations

from pathlib import Path

from tests.engine.net.reach_peers import PORT, start_pair
from threads_desktop.bench.lab import Lab, Router, home_networks


def forward_port_by_hand(lab: Lab, router: Router) -> None:
    """What a user does in a router's settings: WAN port PORT to the home host."""
    [host] = router.hosts
    lab.run(router.name, ["nft", "add", "rule", "inet", "filter", "prerouting_miniupnpd", "iifname", "wan",
                          "tcp", "dport", str(PORT), "dnat", "ip", "to", f"{host.ip}:{PORT}"])
    lab.run(router.name, ["nft", "add", "rule", "inet", "filter", "miniupnpd", "ip", "daddr", host.ip,
                          "tcp", "dport", str(PORT), "accept"])


def test_a_port_forwarded_by_hand_is_found_by_a_dial_back_and_advertised(tmp_path: Path) -> None:
    with home_networks("port_preserving") as lab:
        [router] = lab.routers
        forward_port_by_hand(lab, router)
        [host] = router.hosts
        home, _outside = start_pair(lab, tmp_path, host, "--upnp", "off")
        state = home.wait_for("an answer from outside", event="state", reachable=True)
        forwarded = f"/ip4/{router.wan_ip}/tcp/{PORT}"
        assert state["reached"] == forwarded and state["mapping"] is None and state["behind_nat"] is True
        assert any(a.startswith(forwarded + "/p2p/") for a in state["addresses"])


def test_a_peer_behind_a_home_router_is_unreachable_and_the_public_peer_it_dials_reachable(
        tmp_path: Path) -> None:
    with home_networks("port_preserving") as lab:
        [router] = lab.routers
        [host] = router.hosts
        home, outside = start_pair(lab, tmp_path, host, "--upnp", "off")
        state = home.wait_for("an answer from outside", event="state", reachable=False)
        assert state["behind_nat"] is True and state["observed"].startswith(f"/ip4/{router.wan_ip}/tcp/")
        assert not any(router.wan_ip in a for a in state["addresses"])
        # The public peer asks the home peer in turn, which dials it back: it may relay.
        state = outside.wait_for("the public peer reachable", event="state", reachable=True)
        assert state["reached"] == f"/ip4/{lab.pub.ip}/tcp/{PORT}" and state["behind_nat"] is False
