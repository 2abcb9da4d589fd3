"""The Devices view and the network settings (issue 15: `peers`, `relay`,
UPnP): what a Node knows of the peers it shares with, and the relays and
router settings the network reads when it starts or is told they changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from threads_desktop.engine import leave
from threads_desktop.engine.core.devices import devices as list_devices
from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.types import Device, NetworkStatus
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.peerbook import PeerBook
from threads_desktop.engine.logstore.relay_address import check_relay_address
from threads_desktop.engine.net.ports import Network
from threads_desktop.engine.threads import ThreadDirectory


class NetworkSettings:
    """Node's devices list, relays and UPnP switch."""

    def __init__(self, database: Database, identity: Identity, directory: ThreadDirectory, peers: PeerBook, *,
                 network: Callable[[], Network | None], network_status: Callable[[], NetworkStatus],
                 member_names: Callable[[ThreadId], dict[str, str]]) -> None:
        self._database = database
        self._identity = identity
        self._directory = directory
        self._peers = peers
        self._network = network
        self._network_status = network_status
        self._member_names = member_names

    def devices(self) -> list[Device]:
        """Every peer we share an album or chat with: its name, how it is
        connected now (or when we last met it), what it shares and how far
        each is in step. Works offline too (then all are offline)."""
        leaving = leave.leaving_threads(self._database)
        summaries = {s.thread_id: (s.name, s.kind) for s in self._directory.all() if s.thread_id not in leaving}
        shared: dict[PeerId, list[ThreadId]] = {}
        for thread_id in summaries:
            for peer in self._peers.peers(thread_id):
                shared.setdefault(peer, []).append(thread_id)
        links = self._network_status().links
        wanted = set(shared) | {PeerId.parse(link.peer_id) for link in links}
        return list_devices(me=self._identity.peer_id, shared=shared, links=links,
                            names=self._names_of(wanted, list(summaries)), threads=summaries,
                            last_seen=self._peers.last_sessions())

    def _names_of(self, peers: set[PeerId], thread_ids: list[ThreadId]) -> dict[PeerId, str]:
        """The name each peer gives itself in a thread we share (as nearby() does)."""
        wanted = {str(p): p for p in peers}
        names: dict[PeerId, str] = {}
        for thread_id in thread_ids:
            if len(names) == len(wanted):
                break
            try:
                in_thread = self._member_names(thread_id)
            except ThreadsError:  # a thread we only follow has no names we can read
                continue
            for member, name in in_thread.items():
                peer = wanted.get(member)
                if peer is not None:
                    names.setdefault(peer, name)
        return names

    def relays(self) -> list[str]:
        """The relay peers the user named, in the order added."""
        return local_settings.relay_addresses(self._database)

    def check_relay(self, address: str) -> str:
        """The address in its canonical spelling; InvalidInputError, in the
        user's words, for one that is not a relay address or is our own."""
        canonical, peer = check_relay_address(address)
        if peer == self._identity.peer_id:
            raise InvalidInputError("That is this device's own address: a relay is another device.")
        return canonical

    def add_relay(self, address: str) -> str:
        """Name a relay peer (a follower on a server, say); returns the
        address as kept. InvalidInputError (nothing stored) for one that is
        not a relay address, or this profile's own."""
        canonical = self.check_relay(address)
        relays = self.relays()
        if canonical not in relays:
            self.set_relays([*relays, canonical])
        return canonical

    def remove_relay(self, address: str) -> None:
        """NotFoundError (nothing changed) for an address not in the list."""
        relays = self.relays()
        canonical = address.strip()
        try:
            canonical = check_relay_address(address)[0]
        except InvalidInputError:
            pass  # a stored address is removed as spelt, whatever it is
        if canonical not in relays:
            raise NotFoundError("That relay is not in the list.")
        self.set_relays([a for a in relays if a != canonical])

    def set_relays(self, addresses: Sequence[str]) -> list[str]:
        """Replace the list (the Settings dialog); each is checked before
        any is stored. Returns the addresses as kept."""
        checked: list[str] = []
        for address in addresses:
            canonical = self.check_relay(address)
            if canonical not in checked:
                checked.append(canonical)
        if checked != self.relays():
            local_settings.store_relay_addresses(self._database, checked)
            self._settings_changed()
        return checked

    def upnp_enabled(self) -> bool:
        """Whether the network asks the router to forward a port (UPnP)."""
        return local_settings.upnp_enabled(self._database)

    def set_upnp_enabled(self, enabled: bool) -> None:
        if bool(enabled) != self.upnp_enabled():
            local_settings.store_upnp_enabled(self._database, bool(enabled))
            self._settings_changed()

    def _settings_changed(self) -> None:
        network = self._network()
        if network is not None:  # offline, the network reads them when it starts
            network.settings_changed()
