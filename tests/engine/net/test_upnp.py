"""UPnP end to end, in the lab's UPnP home network (lab.py): a peer behind
the router maps its port in the background, a peer outside dials it back at
the mapping, only then is the mapping advertised, and it is removed on exit
and when the setting is turned off; a taken port is mapped at another, the
lease is renewed, and a LAN neighbour's answer does not count as outside."""

from __future__ import annotations

import time
from pathlib import Path

import miniupnpc  # type: ignore[import-not-found]  # no stubs; py-libp2p depends on it

from tests.engine.net.reach_peers import PORT, Mapper, Peer, advertised_only_once_reached, start_pair
from threads_desktop.bench.lab import Home, Lab, home_networks
from threads_desktop.bench.netns import Host

UPNP_DISCOVERY_MS = 1000


def mapping_target(lab: Lab, host: Host, port: int = PORT) -> str | None:
    """The LAN IP the router forwards TCP `port` to (None: not mapped), asked from `host`."""
    def ask() -> str | None:
        upnp = miniupnpc.UPnP()
        upnp.discoverdelay = UPNP_DISCOVERY_MS
        assert upnp.discover() >= 1, "no UPnP router"
        upnp.selectigd()
        found = upnp.getspecificportmapping(port, "TCP")
        return str(found[0]) if found else None
    return lab.call(host, ask)


def port_of(address: str) -> int:
    return int(address.rsplit("/tcp/", 1)[1].split("/", 1)[0])


def upnp_home(hosts: int = 1) -> tuple[Home, ...]:
    return (Home("upnp", hosts=hosts),)


def test_a_peer_behind_a_upnp_router_is_dialled_back_at_its_mapping_then_advertises_it(tmp_path: Path) -> None:
    with home_networks(*upnp_home()) as lab:
        [router] = lab.routers
        [host] = router.hosts
        home, outside = start_pair(lab, tmp_path, host)
        ready = home.wait_for("online", event="ready")
        started = time.monotonic()
        first = home.wait_for("its first state", event="state")
        assert first["mapping"] is None  # online before the router was even found: start-up never waits
        state = home.wait_for("reachable at the mapping", event="state", reachable=True)
        seconds = time.monotonic() - started
        mapped = f"/ip4/{router.wan_ip}/tcp/{PORT}"  # the same port outside, as it was free
        assert state["mapping"] == mapped and state["reached"] == mapped
        assert state["behind_nat"] is True and state["observed"].startswith(f"/ip4/{router.wan_ip}/tcp/")
        assert f"{mapped}/p2p/{ready['peer_id']}" in state["addresses"]
        advertised_only_once_reached(home)
        assert mapping_target(lab, host) == host.ip
        print(f"online to reachable at the mapping: {seconds:.2f} s")
        assert home.stop() == 0
        assert mapping_target(lab, host) is None, "the mapping outlived the peer"
        outside.stop()


def test_turning_upnp_off_removes_the_mapping_and_on_maps_again(tmp_path: Path) -> None:
    with home_networks(*upnp_home()) as lab:
        [router] = lab.routers
        [host] = router.hosts
        home, _outside = start_pair(lab, tmp_path, host, "--upnp", "off")
        # Without a mapping the router drops the dial-back: behind NAT, unreachable.
        state = home.wait_for("unreachable", event="state", reachable=False)
        assert state["mapping"] is None and state["behind_nat"] is True
        assert not any(router.wan_ip in a for a in state["addresses"])
        assert mapping_target(lab, host) is None
        home.send("upnp on")
        state = home.wait_for("reachable at the mapping", event="state", reachable=True)
        assert state["mapping"] == f"/ip4/{router.wan_ip}/tcp/{PORT}"
        assert mapping_target(lab, host) == host.ip
        home.send("upnp off")
        state = home.wait_for("the mapping gone", event="state", mapping=None)
        assert mapping_target(lab, host) is None
        assert not any(router.wan_ip in a for a in state["addresses"])
        advertised_only_once_reached(home)


def test_an_external_port_taken_by_another_device_is_mapped_at_another_port(tmp_path: Path) -> None:
    with home_networks(*upnp_home(hosts=2)) as lab:
        [router] = lab.routers
        host, other_host = router.hosts
        other = Mapper(lab, other_host, tmp_path / "other.log")
        assert other.wait_for("the other device's mapping", event="mapping")["address"] == \
            f"/ip4/{router.wan_ip}/tcp/{PORT}"
        home, _outside = start_pair(lab, tmp_path, host)
        state = home.wait_for("reachable at a mapping", event="state", reachable=True)
        assert state["mapping"].startswith(f"/ip4/{router.wan_ip}/tcp/") and port_of(state["mapping"]) != PORT
        assert state["reached"] == state["mapping"]
        assert any(a.startswith(state["mapping"] + "/p2p/") for a in state["addresses"])
        assert mapping_target(lab, host, port_of(state["mapping"])) == host.ip
        assert home.stop() == 0
        assert mapping_target(lab, host, port_of(state["mapping"])) is None
        assert mapping_target(lab, host) == other_host.ip  # the other device's, untouched
        assert other.stop() == 0
        assert mapping_target(lab, host) is None


def test_the_lease_is_renewed_before_it_ends(tmp_path: Path) -> None:
    lease = 3
    with home_networks(*upnp_home()) as lab:
        [router] = lab.routers
        [host] = router.hosts
        mapper = Mapper(lab, host, tmp_path / "mapper.log", "--lease", str(lease))
        mapper.wait_for("a mapping", event="mapping", address=f"/ip4/{router.wan_ip}/tcp/{PORT}")

        def watch() -> list[int]:
            """The lease left, every 0.2 s for four leases (the router drops a mapping whose lease ran out)."""
            upnp = miniupnpc.UPnP()
            upnp.discoverdelay = UPNP_DISCOVERY_MS
            assert upnp.discover() >= 1, "no UPnP router"
            upnp.selectigd()
            left = []
            deadline = time.monotonic() + 4 * lease
            while time.monotonic() < deadline:
                found = upnp.getspecificportmapping(PORT, "TCP")
                assert found is not None, f"the mapping expired after {len(left) * 0.2:.1f} s"
                left.append(int(found[4]))
                time.sleep(0.2)
            return left

        left = lab.call(host, watch, timeout=8 * lease + 10)
        assert max(left) <= lease and min(left) >= 0
        assert mapper.stop() == 0
        assert mapping_target(lab, host) is None


def test_a_neighbour_on_the_lan_does_not_make_a_peer_reachable_and_a_peer_outside_is_asked_when_it_comes(
        tmp_path: Path) -> None:
    with home_networks(*upnp_home(hosts=2)) as lab:
        [router] = lab.routers
        home_host, lan_host = router.hosts
        mapped = f"/ip4/{router.wan_ip}/tcp/{PORT}"
        neighbour = Peer(lab, lan_host, tmp_path / "neighbour", "--create", "--upnp", "off")
        home = Peer(lab, home_host, tmp_path / "home", "--join",
                    neighbour.wait_for("the neighbour's link", event="link")["link"])
        # The neighbour dials the home peer back at its LAN address: that is no reach from outside.
        state = home.wait_for("a LAN-only answer", event="state", observed=None)
        while state["observed"] is None or state["mapping"] is None:
            # Mapped too (that asks the neighbour again, which is quick): from here on only
            # the new peer outside can start a check, or the 30 min recheck.
            state = home.wait_for("a LAN-only answer and the mapping", event="state")
        assert state["observed"].startswith(f"/ip4/{home_host.ip}/tcp/") and state["behind_nat"] is False
        assert state["reachable"] is None and state["mapping"] == mapped
        assert not any(router.wan_ip in a for a in state["addresses"])
        outside = Peer(lab, lab.pub, tmp_path / "outside", "--create", "--upnp", "off")
        home.send("join " + outside.wait_for("the outside link", event="link")["link"])
        started = time.monotonic()
        state = home.wait_for("reachable, asked by the peer outside", event="state", reachable=True)
        print(f"joined outside to reachable: {time.monotonic() - started:.1f} s")
        assert state["reached"] == state["mapping"] == mapped and state["behind_nat"] is True
        advertised_only_once_reached(home)


def test_stopping_while_the_router_is_being_found_exits_at_once_and_leaves_no_mapping(tmp_path: Path) -> None:
    with home_networks(*upnp_home()) as lab:
        [host] = lab.routers[0].hosts
        home = Peer(lab, host, tmp_path / "home")
        home.wait_for("online", event="ready")
        started = time.monotonic()
        assert home.stop() == 0  # discovery listens ~2 s on its thread: abandoned, not waited for
        seconds = time.monotonic() - started
        print(f"stopped during discovery in {seconds:.2f} s")
        assert seconds < 1.5
        assert not any(s.get("mapping") for s in home.seen if s.get("event") == "state")
        assert mapping_target(lab, host) is None
