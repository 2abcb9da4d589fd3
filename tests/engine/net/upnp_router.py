"""A home router with miniupnpd, built in the router namespace of
`netns.network(1, 1, router=True)`: segment 0 is the home LAN, segment 1
the outside.

The router masquerades the LAN behind EXTERNAL_IP (a second, public-looking
address on its WAN side: miniupnpd refuses a private or documentation-range
one as "not suitable for external IP"; nothing leaves the namespaces), drops
unsolicited inbound traffic like a home router, and runs miniupnpd
(nftables backend) on its LAN side, whose mappings open the firewall. Hosts
outside get a route to EXTERNAL_IP through it. (The lab, tests/engine/net/
lab.py, has a fuller router; this one is what the UPnP tests need.)
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.net.netns import ROUTER_HOST, SUBNET, Network

EXTERNAL_IP = "11.0.0.1"
READY_SECONDS = 10.0
TABLE = "upnp"

RULESET = """
table inet {table} {{
    chain forward {{
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "eth0" accept
        jump forwardUPnP
    }}
    chain forwardUPnP {{
    }}
    chain prerouting {{
        type nat hook prerouting priority -100; policy accept;
        jump UPnP
    }}
    chain postrouting {{
        type nat hook postrouting priority 100; policy accept;
        jump UPnP-Postrouting
        oifname "eth1" snat ip to {external}
    }}
    chain UPnP {{
    }}
    chain UPnP-Postrouting {{
    }}
}}
"""

CONFIG = """ext_ifname=eth1
ext_ip={external}
listening_ip=eth0
http_port=0
enable_natpmp=no
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=6643965e-7959-4f6e-96c7-898a5cfe7565
upnp_table_name={table}
upnp_nat_table_name={table}
upnp_forward_chain=forwardUPnP
upnp_nat_chain=UPnP
upnp_nat_postrouting_chain=UPnP-Postrouting
allow 1024-65535 {lan}.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""


@dataclass
class UpnpRouter:
    net: Network
    log_path: Path

    def mappings(self) -> str:
        """The DNAT rules miniupnpd added (one line per mapping)."""
        assert self.net.router is not None
        listing = self.net.run(self.net.router, ["nft", "list", "chain", "inet", TABLE, "UPnP"])
        return "\n".join(line.strip() for line in listing.splitlines() if "dnat" in line)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def upnp_router(net: Network, tmp_path: Path) -> UpnpRouter:
    """Turn the network's router into a home router with miniupnpd."""
    if net.router is None or len({h.segment for h in net.hosts}) != 2:
        raise ValueError("needs network(home, outside, router=True)")
    for tool in ("nft", "miniupnpd"):
        if shutil.which(tool) is None:
            pytest.skip(f"the UPnP router needs `{tool}` (scripts/install-system-deps.sh installs it)")
    router = net.router
    net.run(router, ["ip", "addr", "add", f"{EXTERNAL_IP}/32", "dev", "eth1"])
    for host in net.hosts:
        if host.segment == 1:
            net.run(host, ["ip", "route", "add", f"{EXTERNAL_IP}/32", "via", f"{SUBNET}.1.{ROUTER_HOST}"])
    rules = tmp_path / "router.nft"
    rules.write_text(RULESET.format(table=TABLE, external=EXTERNAL_IP))
    net.run(router, ["nft", "-f", str(rules)])
    config = tmp_path / "miniupnpd.conf"
    config.write_text(CONFIG.format(table=TABLE, external=EXTERNAL_IP, lan=f"{SUBNET}.0"))
    log_path = tmp_path / "miniupnpd.log"
    with log_path.open("w") as log:
        net.popen(router, ["miniupnpd", "-d", "-f", str(config), "-P", str(tmp_path / "miniupnpd.pid")],
                  stdout=log, stderr=subprocess.STDOUT)
    result = UpnpRouter(net, log_path)
    deadline = time.monotonic() + READY_SECONDS
    while "HTTP listening on port" not in result.log():
        if time.monotonic() > deadline:
            raise AssertionError(f"miniupnpd did not start in {READY_SECONDS:g} s:\n{result.log()}")
        time.sleep(0.05)
    return result
