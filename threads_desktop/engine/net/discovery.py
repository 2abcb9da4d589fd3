"""LAN discovery over mDNS / DNS-SD (zeroconf).

Each peer registers one `_threads._tcp.local.` service. Its TXT record says only
who we are and where we listen: `id=<peer ID>` and `a0=`..`a7=` (multiaddrs),
nothing about threads, names or members. The instance name is the peer ID
(truncated to 63 bytes); the TXT `id` is authoritative. The SRV/A records carry
the port and IPv4 addresses of our `/ip4/X/tcp/P` multiaddrs, for generic mDNS
tools; peers read the TXT.

An announcement is a hint, not a proof: anyone on the LAN can claim any peer
ID. The libp2p handshake (Noise) authenticates the peer when we dial it.

Threads: zeroconf runs its own event loop thread and a browser thread. Our
`on_found` is called on the browser thread, one announcement at a time; the
caller bridges to its own loop (e.g. `trio.from_thread.run_sync` with a token,
or `loop.call_soon_threadsafe`) and must not block for long or call `stop()`
from inside it. `start()`, `update_addresses()` and `stop()` block for about a
second each (probing, announcing, goodbye packets): call them from a worker
thread (`trio.to_thread.run_sync`), not from an event loop.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ifaddr
import multiaddr
from zeroconf import InterfaceChoice, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from threads_desktop.engine.core.errors import InvalidIdError, InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.logstore.addressbook import canonical_address

SERVICE_TYPE = "_threads._tcp.local."
MAX_ANNOUNCED_ADDRESSES = 8
MAX_TXT_ENTRIES = 32  # ours use at most 9; the rest are ignored, but bounded
MAX_INSTANCE_LABEL = 63  # bytes, DNS label limit
MAX_TXT_ENTRY = 255  # bytes, "key=value"
RESOLVE_TIMEOUT_MS = 2000

_ID_KEY = b"id"
_UNSPECIFIED_IP4 = ipaddress.IPv4Address("0.0.0.0")


@dataclass(frozen=True)
class FoundPeer:
    """A validated announcement: a peer ID and 1..8 canonical multiaddrs, each
    ending with `/p2p/<peer_id>`."""

    peer_id: str
    addresses: tuple[str, ...]


def _address_index(key: bytes) -> int | None:
    """`a0`..`a9999` -> the index; anything else (including `a01`) -> None."""
    digits = key[1:]
    if not key.startswith(b"a") or not digits or not digits.isdigit() or len(digits) > 4:
        return None
    if digits != b"0" and digits.startswith(b"0"):
        return None
    return int(digits)


def _with_peer_suffix(text: str, peer_id: str) -> str:
    """The canonical address ending with `/p2p/<peer_id>`; InvalidInputError if
    it names another peer last or names nothing but the peer."""
    canonical = canonical_address(text)
    try:
        protocols = [p.name for p in multiaddr.Multiaddr(canonical).protocols()]
    except Exception as exc:  # the parser raises several types
        raise InvalidInputError(f"not a multiaddr: {canonical!r}") from exc
    if protocols[-1] == "p2p":
        if not canonical.endswith("/p2p/" + peer_id):
            raise InvalidInputError("an announced address ends with another peer's ID")
        if len(protocols) == 1:
            raise InvalidInputError("an announced address names nothing but the peer")
        return canonical
    return canonical_address(f"{canonical}/p2p/{peer_id}")


def parse_announcement(properties: Mapping[bytes, bytes | None], own_peer_id: str) -> FoundPeer | None:
    """The peer a TXT record announces, or None for our own announcement and for
    anything malformed. Never raises.

    Requires `id` (a canonical Ed25519 peer ID) and addresses `a0`..`a<n-1>`,
    1 <= n <= 8, contiguous, each a multiaddr (canonicalised, duplicates
    dropped, `/p2p/<id>` appended unless present; one naming another peer
    refuses the announcement). Other keys are ignored, at most 32 entries.
    """
    try:
        if not isinstance(properties, Mapping) or len(properties) > MAX_TXT_ENTRIES:
            return None
        raw_id = properties.get(_ID_KEY)
        if not isinstance(raw_id, bytes):
            return None
        peer_id = str(PeerId.parse(raw_id.decode("ascii")))
        if peer_id == own_peer_id:
            return None
        raw_addresses: dict[int, bytes] = {}
        for key, value in properties.items():
            if not isinstance(key, bytes):
                return None
            index = _address_index(key)
            if index is None:
                continue
            if index >= MAX_ANNOUNCED_ADDRESSES or not isinstance(value, bytes):
                return None
            raw_addresses[index] = value
        if not raw_addresses or sorted(raw_addresses) != list(range(len(raw_addresses))):
            return None
        addresses: dict[str, None] = {}
        for index in range(len(raw_addresses)):
            addresses[_with_peer_suffix(raw_addresses[index].decode("utf-8"), peer_id)] = None
        return FoundPeer(peer_id, tuple(addresses))
    except (InvalidInputError, UnicodeDecodeError):
        return None


def _local_ipv4_addresses(interfaces: Sequence[str] | None) -> list[str]:
    """This machine's IPv4 addresses, loopback excluded; only those in
    `interfaces` if given."""
    allowed = None if interfaces is None else set(interfaces)
    found: dict[str, None] = {}
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue
            address = ipaddress.IPv4Address(ip.ip)
            if address.is_loopback or address == _UNSPECIFIED_IP4:
                continue
            if allowed is None or str(address) in allowed:
                found[str(address)] = None
    return list(found)


def _is_unannounced_ip(protocol: str, value: str) -> bool:
    """Loopback and unspecified addresses mean nothing to another machine."""
    if protocol not in ("ip4", "ip6"):
        return False
    address = ipaddress.ip_address(value)
    return address.is_loopback or address.is_unspecified


def announced_addresses(addresses: Sequence[str], interfaces: Sequence[str] | None = None) -> list[str]:
    """What we put in the TXT record: canonical addresses, `/ip4/0.0.0.0/...`
    expanded to this machine's IPv4 addresses, loopback and other unspecified
    addresses dropped, duplicates dropped, at most 8 that fit a TXT entry.
    InvalidInputError if one is not a multiaddr."""
    result: dict[str, None] = {}
    local_ipv4: list[str] | None = None
    for text in addresses:
        ma = multiaddr.Multiaddr(canonical_address(text))
        items = list(ma.items())
        protocol, value = items[0][0].name, str(items[0][1])
        if protocol == "ip4" and ipaddress.IPv4Address(value) == _UNSPECIFIED_IP4:
            if local_ipv4 is None:
                local_ipv4 = _local_ipv4_addresses(interfaces)
            rest = str(ma)[len(f"/ip4/{value}"):]
            expanded = [f"/ip4/{ip}{rest}" for ip in local_ipv4]
        elif _is_unannounced_ip(protocol, value):
            expanded = []
        else:
            expanded = [str(ma)]
        for candidate in expanded:
            if len(candidate.encode()) + len(b"a0=") <= MAX_TXT_ENTRY:
                result[canonical_address(candidate)] = None
    return list(result)[:MAX_ANNOUNCED_ADDRESSES]


def announcement_properties(peer_id: str, addresses: Sequence[str]) -> dict[bytes, bytes]:
    """The TXT properties announcing `peer_id` at `addresses` (as announced)."""
    properties = {_ID_KEY: peer_id.encode("ascii")}
    for index, address in enumerate(addresses[:MAX_ANNOUNCED_ADDRESSES]):
        properties[f"a{index}".encode()] = address.encode()
    return properties


def _tcp_ipv4(addresses: Sequence[str]) -> tuple[list[str], int]:
    """IPv4 addresses of `/ip4/X/tcp/P...` multiaddrs, and the first port (0 if none)."""
    ips: dict[str, None] = {}
    port = 0
    for text in addresses:
        items = list(multiaddr.Multiaddr(text).items())
        if len(items) >= 2 and items[0][0].name == "ip4" and items[1][0].name == "tcp":
            ips[str(items[0][1])] = None
            port = port or int(items[1][1])
    return list(ips), port


class LanDiscovery:
    """Announce ourselves on the LAN and report the peers that announce
    themselves (see the module docstring for threads).

    `interfaces` are IP addresses of local interfaces to run mDNS on (as
    zeroconf takes them); None means every interface with an IPv4 address.
    `on_found` may be called again for the same peer (re-announcements,
    address changes); exceptions it raises are logged and dropped.
    """

    def __init__(
        self,
        peer_id: str,
        addresses: Sequence[str],
        on_found: Callable[[FoundPeer], None],
        *,
        interfaces: Sequence[str] | None = None,
    ) -> None:
        self._peer_id = str(PeerId.parse(peer_id))
        if self._peer_id != peer_id:
            raise InvalidIdError("non-canonical peer ID text")
        self._addresses = [canonical_address(a) for a in addresses]
        self._on_found = on_found
        self._interfaces = None if interfaces is None else list(interfaces)
        self._logger = logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._zeroconf: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None
        self._info: ServiceInfo | None = None
        self._started = False
        self._stopped = False

    @property
    def service_name(self) -> str | None:
        """Our registered service name (zeroconf may rename it on a conflict)."""
        info = self._info
        return None if info is None else info.name

    def start(self) -> None:
        """Create zeroconf (its own threads), register our service, browse."""
        with self._lock:
            if self._started:
                raise RuntimeError("LanDiscovery.start() called twice")
            self._started = True
            zc = Zeroconf(interfaces=InterfaceChoice.All if self._interfaces is None else list(self._interfaces))
            self._zeroconf = zc
            try:
                self._announce(self._addresses)
                self._browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[self._on_service_state_change])
            except BaseException:
                self._stopped = True
                self._close()
                raise

    def update_addresses(self, addresses: Sequence[str]) -> None:
        """Re-announce with new addresses (registers if we had none to announce)."""
        canonical = [canonical_address(a) for a in addresses]
        with self._lock:
            self._addresses = canonical
            if self._started and not self._stopped:
                self._announce(canonical)

    def stop(self) -> None:
        """Say goodbye, stop browsing and close zeroconf. Idempotent; not from
        inside `on_found`."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._close()

    def _close(self) -> None:
        browser, self._browser = self._browser, None
        zc, self._zeroconf = self._zeroconf, None
        info, self._info = self._info, None
        if browser is not None:
            browser.cancel()
        if zc is not None:
            try:
                if info is not None:
                    zc.unregister_service(info)
            finally:
                zc.close()

    def _announce(self, addresses: Sequence[str]) -> None:
        """Register, update or withdraw our service. Holds the lock."""
        zc = self._zeroconf
        assert zc is not None
        announced = []
        for address in announced_addresses(addresses, self._interfaces):
            try:
                _with_peer_suffix(address, self._peer_id)
            except InvalidInputError:
                self._logger.warning("not announcing %s: it names another peer", address)
                continue
            announced.append(address)
        if not announced:
            if self._info is not None:
                zc.unregister_service(self._info)
                self._info = None
            self._logger.info("nothing to announce on the LAN (no non-loopback address)")
            return
        ips, port = _tcp_ipv4(announced)
        properties: dict[str | bytes, str | bytes | None] = {
            key: value for key, value in announcement_properties(self._peer_id, announced).items()}
        label = self._peer_id.encode("ascii")[:MAX_INSTANCE_LABEL].decode("ascii")
        name = f"{label}.{SERVICE_TYPE}" if self._info is None else self._info.name
        info = ServiceInfo(
            SERVICE_TYPE, name, port=port, properties=properties, server=f"{label}.local.", parsed_addresses=ips)
        if self._info is None:
            zc.register_service(info, allow_name_change=True)
        else:
            zc.update_service(info)
        self._info = info

    def _on_service_state_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange,
    ) -> None:
        """On zeroconf's browser thread. Never raises."""
        try:
            if self._stopped or state_change not in (ServiceStateChange.Added, ServiceStateChange.Updated):
                return
            own = self._info
            if own is not None and name.lower() == own.name.lower():
                return
            info = zeroconf.get_service_info(service_type, name, timeout=RESOLVE_TIMEOUT_MS)
            if info is None or self._stopped:
                return
            found = parse_announcement(info.properties, self._peer_id)
            if found is not None:
                self._on_found(found)
        except Exception:
            self._logger.exception("LAN discovery: handling %r failed", name)
