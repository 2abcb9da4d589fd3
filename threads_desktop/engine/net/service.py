"""The network service: a libp2p host, one worker per remote peer, and the
triggers that give workers something to do.

A worker owns one session stream to its peer and a set of threads to sync
with it (a set: asking twice queues once). Work arrives from local changes
(push), from records a peer pushed (relay to the others), from discovery and
on a slow timer (pull covers whatever push missed). A failing peer is retried
with exponential backoff. Everything runs on the engine's trio thread, so
node calls never overlap. The node is seen only as a `ThreadStore`, and the
service is the node's `Network` (ports.py); engine/networking.py wires them.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial
from typing import Any

import trio
from libp2p.abc import IHost

from threads_desktop.engine.core.errors import PeerError, ThreadsError, error_text
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.logstore.blobs import ORIGINAL
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.store import IngestOutcome
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net import budgets, proofs
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.admission import Admission, accept_in_batches
from threads_desktop.engine.net.client import ClientSession, LastKnown, Progress, SyncResult
from threads_desktop.engine.net.devicing import PROTOCOL_ID as DEVICE_ID
from threads_desktop.engine.net.devicing import DeviceServer, Devicing
from threads_desktop.engine.net.dialback import PROTOCOL_ID as DIALBACK_ID
from threads_desktop.engine.net.dialer import Dialer
from threads_desktop.engine.net.gossip import Gossip, topic_of
from threads_desktop.engine.net.joining import PROTOCOL_ID as JOIN_ID
from threads_desktop.engine.net.joining import Admissions, Joiner, JoinLimits, JoinServer
from threads_desktop.engine.net.members import AclPeers
from threads_desktop.engine.net.paging import log_position
from threads_desktop.engine.net.peer_states import LocalNetworks
from threads_desktop.engine.net.ports import ThreadStore
from threads_desktop.engine.net.reach import Reach
from threads_desktop.engine.net.relay import RelayLimits, RelayService
from threads_desktop.engine.net.relay_client import RelayClient
from threads_desktop.engine.net.server import SyncServer
from threads_desktop.engine.net.service_addresses import CONNECT_TIMEOUT, AddressParts
from threads_desktop.engine.net.service_joining import HINT_TTL_SECONDS, JoiningParts
from threads_desktop.engine.net.service_nearby import DISCOVERED_TTL, NEARBY_SECONDS, NearbyParts
from threads_desktop.engine.net.service_relaying import RelayingParts
from threads_desktop.engine.net.service_state import Discovery, PeerLinkState, PeerStatus, Sighting
from threads_desktop.engine.net.service_status import PROGRESS_PUSH_SECONDS, StatusParts
from threads_desktop.engine.net.turns import MembersFirst
from threads_desktop.engine.net.upnp import Gateway, MiniupnpcGateway
from threads_desktop.engine.net.wire import PROTOCOL_ID

log = logging.getLogger(__name__)

__all__ = ["NEARBY_SECONDS", "Discovery", "DiscoveryFactory", "NetworkService", "PeerStatus", "ProgressListener"]

# A hello is answered at once; one that is not means a dead connection
# (a peer gone without closing it): drop it and dial again.
HELLO_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0  # a whole pass may take longer; each request may not
MAX_BACKOFF = 300.0
MIN_BYTES_PER_SECOND = 256 * 1024  # below this a transfer is given up and resumed later
ProgressListener = Callable[[Progress], None]
# What ends a session with a peer (and only that session): its failures and
# anything it sent that we refused.
SESSION_ERRORS = (ThreadsError, trio.TooSlowError, *hosting.NETWORK_ERRORS)


DiscoveryFactory = Callable[[str, Sequence[str], Callable[[PeerId, list[str]], None]], Discovery]


class NetworkService(AddressParts, RelayingParts, NearbyParts, JoiningParts, StatusParts):
    """The network of one node: implements ports.Network."""

    def __init__(self, threads: ThreadStore, *, listen: Sequence[str], pull_interval: float = 60.0,
                 discovery: DiscoveryFactory | None = None,
                 on_progress: ProgressListener | None = None, gossip: bool = True,
                 random_bytes: Callable[[int], bytes] = os.urandom,
                 clock: Callable[[], float] = time.time,
                 upnp_gateway: Callable[[], Gateway | None] = MiniupnpcGateway.discover,
                 limits: budgets.Limits | None = None,
                 read_interfaces: Callable[[], list[addressing.Interface]] = addressing.read_interfaces,
                 reachable: Callable[[], bool] | None = None,
                 relay_limits: RelayLimits | None = None, hole_punching: bool = True,
                 admissions: Admissions | None = None, join_limits: JoinLimits | None = None,
                 devicing: Devicing | None = None) -> None:
        self._threads = threads
        self._listen = hosting.parse_listen(listen)
        self._pull_interval = pull_interval
        self._discovery_factory = discovery
        self._on_progress = on_progress
        self._random_bytes = random_bytes
        self._me = threads.identity.peer_id
        self._links: dict[PeerId, PeerLinkState] = {}
        self._host: IHost | None = None
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self.transfers: dict[tuple[ThreadId, PeerId], Progress] = {}
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self._gossip: Gossip | None = None
        self._gossip_enabled = gossip
        self._published: dict[ThreadId, int] = {}  # our own log's seq last published, per thread
        self._topics_changed = trio.Event()
        self._last_progress_push = 0.0
        self._nearby: dict[PeerId, Sighting] = {}
        self._nearby_changed = trio.Event()
        self._clock = clock  # wall time: when a nearby peer was last seen
        self._online = False
        self._read_interfaces = read_interfaces
        self._interfaces: list[addressing.Interface] = []  # the machine's, kept current while online
        self._observed = addressing.ObservedAddresses(time.monotonic)
        self._dialer = Dialer(self._dial_direct, lambda: self._interfaces, dial_relayed=self._dial_relayed)
        self._discovery: Discovery | None = None
        # which connections are on our own network (peer_links): from the
        # interfaces the watch reads on a worker thread (ifaddr blocks)
        self._local_networks = LocalNetworks(read=lambda: [i.network for i in self._interfaces])
        self._connections_changed = trio.Event()  # a connection opened or closed: publish a status soon
        # What strangers may hold, shared by every session (budgets.py).
        # A peer the ACLs name is a member from its handshake on, met or not (members.py).
        self.acl_peers = AclPeers(threads)
        self.budgets = budgets.Budgets(
            lambda peer: peer in self.acl_peers or bool(threads.peers.threads_of(peer)), limits)
        self.members_first = MembersFirst(self.budgets.limits)  # strangers' reads wait while members are served
        self.admission = Admission(self.budgets.limits, self.budgets.is_member, members_first=self.members_first)
        self._server = SyncServer(threads, self._me, self._known_peers, self._relay, self._met, self._invited,
                                  self.budgets, on_broken=self.admission.broke_protocol,
                                  members_first=self.members_first)
        # Reach from outside (UPnP, dial-back, reachability): reach.py.
        self._reach = Reach(me=self._me, open_stream=self._open_stream_to, upnp_enabled=threads.upnp_enabled,
                            local_ips=self._local_ipv4, on_change=self._reach_changed, discover_gateway=upnp_gateway)
        # Relaying (relay.py, relay_client.py): peers that proved a shared
        # thread lately (reach.proven) may reserve here, while peers outside
        # reach us (the dial-back check; a public listen address until it
        # answers; or what the caller says).
        self._reachable = reachable or self._reachable_now
        self._relay_limits = relay_limits
        self._hole_punching = hole_punching
        self.relay_service: RelayService | None = None
        self.relay_client: RelayClient | None = None
        # Joining by link (joining.py): answering joiners, and our own joins' loop.
        self.join_server = JoinServer(admissions, self.budgets, join_limits or JoinLimits()) \
            if admissions is not None else None
        self.joiner = Joiner(admissions, self._open_join_stream, self._join_candidates, self._admitted,
                             self._link_peers) if admissions is not None else None
        # Adding a device of this person by link (devicing.py, issue 19): the join server's limits.
        self.device_server = DeviceServer(devicing, self.budgets, join_limits or JoinLimits()) \
            if devicing is not None else None

    # --- life cycle ------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, dial known peers, serve until cancelled; always closes the host."""
        with trio.CancelScope() as self._scope:
            try:
                await self._run(task_status)
            finally:
                self._stopped.set()

    async def stop(self) -> None:
        """Go offline: close every connection and the host, and return once done."""
        if self._scope is not None:
            self._scope.cancel()
            await self._stopped.wait()

    async def _run(self, task_status: Any) -> None:
        hosting.check_ports_free(self._listen)  # OSError: another peer has the port
        self._interfaces = await trio.to_thread.run_sync(self._read_interfaces)
        self._observed = addressing.ObservedAddresses(time.monotonic)  # a restart may be on another network
        self.acl_peers.forget()
        host = hosting.build_host(self._threads.identity, self.admission, advertise=self.listen_addresses,
                                  on_observed=self._observed_by)
        connections = hosting.track_connections(host)
        self._host = host
        discovery = None
        unsubscribe = None
        # Pubsub must see every connection: made before the first one.
        self._gossip = Gossip(host, self._me, self._gossiped) if self._gossip_enabled else None
        async with host.run(listen_addrs=self._listen):
            try:
                hosting.deepen_listen_backlog(host)  # issue 17: bursts of connections wait, not drop
                accept_in_batches(host.get_network(), self.admission.limits.accept_batch)  # hostile17
                hosting.set_handler(host, PROTOCOL_ID, self._serve_session)
                hosting.set_handler(host, DIALBACK_ID, self._reach.serve)
                if self.join_server is not None:
                    hosting.set_handler(host, JOIN_ID, self._serve_join)
                if self.device_server is not None:
                    hosting.set_handler(host, DEVICE_ID, self._serve_device)
                hosting.watch_connections(host, self._connection_changed)
                self._start_relaying(host)
                self._online = True
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self._token = trio.lowlevel.current_trio_token()
                    if self._gossip is not None:
                        await nursery.start(self._gossip.run)
                        self._published = {t: self._own_seq(t) for t in self._threads.thread_ids()}
                        nursery.start_soon(self._keep_topics, self._gossip)
                    unsubscribe = self._threads.subscribe(self._local_changes)
                    if self._discovery_factory is not None:
                        discovery = self._discovery_factory(str(self._me), self.listen_addresses(),
                                                            self._discovered)
                        # zeroconf blocks while it probes and announces (~2 s)
                        await trio.to_thread.run_sync(discovery.start)
                        self._discovery = discovery
                    for peer in self._threads.peers.all_peers():
                        self.schedule(peer)
                    self._use_configured_relays()
                    nursery.start_soon(self._timer)
                    nursery.start_soon(self._expire_nearby)
                    nursery.start_soon(partial(addressing.watch_interfaces, self._interfaces_changed,
                                               self._read_interfaces, first=self._interfaces))
                    nursery.start_soon(self._reach.run, self._direct_addresses())
                    nursery.start_soon(self._tell_connections)
                    if self.joiner is not None:
                        nursery.start_soon(self.joiner.run)
                    if self.relay_client is not None:
                        nursery.start_soon(self.relay_client.run)
                    task_status.started(self)
                    self._threads.network_changed(nearby=True)  # the app's window may be up already: now it is online
                    await trio.sleep_forever()
            finally:
                for peer in hosting.connection_routes(host):  # going offline ends every session now
                    if peer in self._links or self._threads.peers.threads_of(peer):
                        self._threads.peers.session_seen(peer)
                self._nursery = None
                self.relay_service = self.relay_client = None
                self._online = False
                self._discovery = None
                self._nearby.clear()
                self._threads.network_changed(nearby=True)
                if unsubscribe is not None:
                    unsubscribe()
                if discovery is not None:
                    with trio.CancelScope(shield=True):
                        await trio.to_thread.run_sync(discovery.stop)
                with trio.CancelScope(shield=True):
                    await connections.close_all()  # before the host: see ConnectionTracker
                    await host.close()

    def unread_bytes(self) -> int:
        """Bytes peers sent us that no one has read yet (issue 17's memory figure)."""
        return hosting.unread_bytes(self._host) if self._host is not None else 0

    # --- relaying (relay.py) ---------------------------------------------------------------------
    # --- triggers ------------------------------------------------------------------------------

    def schedule(self, peer: PeerId, threads: set[ThreadId] | None = None, *, now: bool = False) -> None:
        """Sync `threads` (None: every thread we share) with a peer soon.
        `now` skips a backoff in progress (new addresses were found)."""
        if peer == self._me or self._nursery is None:
            return
        link = self._links.get(peer)
        if link is None:
            link = self._links[peer] = PeerLinkState(peer)
            self._nursery.start_soon(self._work, link)
        if threads is None:
            link.everything = True
        else:
            link.pending |= threads
        if now and link.backoff is not None:
            link.backoff.cancel()
        link.wake.set()

    def _local_changes(self, changes: ChangeSet) -> None:
        self.acl_peers.changed(changes)
        if changes.threads_added or changes.threads_removed:
            self._topics_changed.set()
        for thread_id in changes.threads_updated | changes.threads_added:
            for peer in self._peers_of(thread_id):
                self.schedule(peer, {thread_id})
            if self._gossip is not None and self._nursery is not None and self._own_seq(thread_id) > \
                    self._published.get(thread_id, 0):
                self._nursery.start_soon(self._publish, self._gossip, thread_id)

    def settings_changed(self) -> None:
        """The profile's network settings changed: each part that reads
        them (relays, UPnP) takes them again."""
        self._use_configured_relays()
        if self.relay_client is not None:
            self.relay_client.wake()
        self._reach.settings_changed()

    def forget_thread(self, thread_id: ThreadId) -> None:
        """We left the thread: no more work for it, and a pass on it now is
        stopped before it writes anything of it again."""
        self._published.pop(thread_id, None)
        for key in [k for k in self.transfers if k[0] == thread_id]:
            del self.transfers[key]
        for link in self._links.values():
            link.pending.discard(thread_id)
            link.cursors.pop(thread_id, None)
            link.deferred.pop(thread_id, None)
            link.known.forget(thread_id)
            if link.session is not None:
                link.session.edges.pop(thread_id, None)
            if link.syncing == thread_id and link.pass_scope is not None:
                link.pass_scope.cancel()

    # --- gossip -----------------------------------------------------------------------------------

    def _own_seq(self, thread_id: ThreadId) -> int:
        own_log = self._threads.own_log(thread_id)
        return log_position(self._threads.heads(thread_id), own_log) if own_log else 0

    async def _publish(self, gossip: Gossip, thread_id: ThreadId) -> None:
        """Our own new records on the thread's topic (a key rotation they
        bring changes the topic: subscribe to the new one first)."""
        own_log = self._threads.own_log(thread_id)
        after = self._published.get(thread_id, 0)
        if own_log is None:
            return
        records = self._threads.records_after(thread_id, own_log, after, 256)
        if not records:
            return
        self._published[thread_id] = records[-1].seq
        topic = topic_of(thread_id, self._threads.thread_keys(thread_id)[0])
        try:
            await gossip.publish(topic, [r.envelope for r in records])
        except hosting.NETWORK_ERRORS as exc:  # best effort: the sessions push it anyway
            log.debug("gossip publish failed: %s", exc)

    def _gossiped(self, thread_id: ThreadId, source: PeerId, envelopes: list[Envelope]) -> None:
        outcomes = self._threads.receive(thread_id, envelopes)
        if any(o is IngestOutcome.ADDED for o in outcomes):
            self.schedule(source, {thread_id})  # for the blobs its records name

    async def _keep_topics(self, gossip: Gossip) -> None:
        """Follow the topic of every thread's two newest follow keys."""
        while True:
            wanted = {topic_of(t, key): t for t in self._threads.thread_ids()
                      for key in proofs.proof_keys(self._threads.thread_keys(t))}
            await gossip.follow(wanted)
            self._topics_changed = trio.Event()
            with trio.move_on_after(self._pull_interval):
                await self._topics_changed.wait()

    def _peers_of(self, thread_id: ThreadId) -> set[PeerId]:
        peers = set(self._threads.peers.peers(thread_id))
        peers |= {link.peer for link in self._links.values()
                  if link.session is not None and thread_id in link.session.edges}
        return peers

    def _relay(self, thread_id: ThreadId, source: PeerId) -> None:
        # The source too: we may lack the blobs its records name.
        for peer in self._peers_of(thread_id) | {source}:
            self.schedule(peer, {thread_id})

    def _met(self, peer: PeerId, thread_id: ThreadId, addresses: list[str]) -> None:
        if self.relay_client is not None:
            self.relay_client.wake(peer)  # and if it relays, it may take our reservation now
        self._threads.peers.remember(thread_id, peer, addresses)
        self._reach.proven.note(peer)  # it proved a shared thread: it may ask for a dial-back
        self._threads.peers.session_seen(peer)
        if self._gossip is not None:
            self._gossip.allow(peer)
        link = self._links.get(peer)
        if link is None or link.session is None:
            # It reached us: our own pass (our changes to it, its blobs to us)
            # runs now over its connection, which needs no dial; a backoff
            # from failing to dial it (it may not be dialable at all) ends.
            self.schedule(peer, {thread_id}, now=True)

    def _invited(self, peer: PeerId) -> None:
        log.info("direct invite received from %s", peer)
        self._threads.invites_changed()

    async def _timer(self) -> None:
        while True:
            await trio.sleep(self._pull_interval)
            self._topics_changed.set()  # keys may have rotated
            for peer in list(self._links):
                self.schedule(peer)

    def _known_peers(self, thread_id: ThreadId, asker: PeerId) -> list[tuple[PeerId, list[str]]]:
        """Heads hints for `asker`: where we and the thread's other peers are,
        as far as it may be told (loopback only to a peer on this machine)."""
        ours = self._addresses_for(asker)
        local = any(addressing.is_loopback(a) for a in ours)
        known = [(self._me, ours)] if ours else []
        for peer in self._threads.peers.peers(thread_id)[:32]:
            addresses = addressing.shareable(self._threads.addresses.addresses(peer), loopback=local)
            if addresses:
                known.append((peer, addresses))
        return known

    # --- sessions ---------------------------------------------------------------------------------

    async def _serve_session(self, stream: hosting.Libp2pStream) -> None:
        remote = stream.remote_address  # None over a relay: counted in the totals only
        await self._server.serve(stream, stream.remote, remote[0] if remote else "")

    async def _open_session(self, peer: PeerId, known: LastKnown | None = None) -> ClientSession:
        """A session over our live connection to the peer (whoever opened
        it), or over a new one dialled at all its known addresses at once;
        `known`: what its earlier sessions learnt (kept for the Devices view)."""
        assert self._host is not None
        with trio.fail_after(CONNECT_TIMEOUT):
            if not hosting.is_connected(self._host, peer):
                await self._dialer.dial(peer, self._threads.addresses.addresses(peer))
            stream = await hosting.new_stream(self._host, peer, PROTOCOL_ID)
        return ClientSession(self._threads, self._me, peer, stream, self._learnt_peers, self._random_bytes,
                             self._addresses_for(peer), known)

    async def _dial_direct(self, peer: PeerId, address: str) -> None:
        assert self._host is not None
        if self.relay_client is not None and not self._reachable():
            # Not reachable: dial from our listen port, so the peer sees where
            # our router maps it (what hole punching tells the other side).
            try:
                await self.relay_client.connect_directly(peer, [address], from_listen_port=True)
            except hosting.NETWORK_ERRORS as exc:
                raise PeerError(f"cannot reach {peer} at {address}: {error_text(exc)}") from exc
            return
        await hosting.dial_address(self._host, peer, address)

    async def _dial_relayed(self, address: str) -> None:
        """Through the relay the address names (the dialer ranks these last)."""
        if self.relay_client is None:
            raise PeerError("offline")
        await self.relay_client.dial_relayed(address)

    def _learnt_peers(self, thread_id: ThreadId, peers: list[tuple[PeerId, list[str]]], ttl: int) -> None:
        # Second-hand hints live briefly, so they cannot crowd out (the book
        # keeps a peer's longest-lived addresses) what we saw ourselves.
        for peer, addresses in peers:
            if peer != self._me:
                self._threads.peers.remember(thread_id, peer, addresses, min(ttl, HINT_TTL_SECONDS))

    async def _work(self, link: PeerLinkState) -> None:
        while True:
            if not link.pending and not link.everything:
                link.wake = trio.Event()
                await link.wake.wait()
            threads, everything = link.pending, link.everything
            link.pending, link.everything = set(), False
            try:
                opened = link.session is None
                if link.session is None:
                    link.session = await self._open_session(link.peer, link.known)
                    self._threads.peers.session_seen(link.peer)  # the Devices view's "offline since"
                    everything = True  # a new session: compare every thread (pull on reconnect)
                    self._threads.network_changed()
                # Our pass with a member goes first too; one with a stranger (a
                # joiner not admitted yet, say) is no member's work: counted as
                # such, it held that stranger's own reads, its answers to this
                # pass and its join request among them, 0.5 s each (a join kept
                # timing out while the two passed every 2 s: test_lan_sync).
                first = self.members_first.serving() if self.budgets.is_member(link.peer) else nullcontext()
                with trio.CancelScope() as scope, first:
                    link.pass_scope = scope
                    await self._pass(link, link.session, None if everything else threads)
                if opened and self.relay_client is not None:
                    self.relay_client.wake(link.peer)  # it has our proofs now: it may take a reservation
                if scope.cancelled_caught:
                    # Stopped mid-request (we left that thread): the stream
                    # is out of step, so the session starts over, at once.
                    with trio.CancelScope(shield=True):
                        await link.session.close()
                    link.session = None
                    link.everything = True
                    self._threads.network_changed()
                    continue
                link.failures, link.last_error = 0, None
                self._threads.network_changed()  # how far each thread is in step moved (the Devices view)
            except Exception as exc:  # a worker outlives any one peer's failure, and our bugs
                if not isinstance(exc, SESSION_ERRORS):
                    log.exception("sync with %s hit a bug", link.peer)
                link.failures += 1
                link.last_error = error_text(exc)
                log.info("sync with %s failed (%d): %s", link.peer, link.failures, link.last_error)
                if link.session is not None:
                    with trio.CancelScope(shield=True):
                        await link.session.close()
                        if isinstance(exc, trio.TooSlowError) and self._host is not None:
                            # No answer: the connection may be dead without
                            # having been closed. Dial afresh next time.
                            await hosting.disconnect(self._host, link.peer)
                link.session = None
                self._threads.network_changed()
                link.pending |= threads
                link.everything = link.everything or everything
                delay = min(MAX_BACKOFF, 2.0 ** link.failures) * random.uniform(0.5, 1.0)
                with trio.CancelScope() as link.backoff:
                    await trio.sleep(delay)
                link.backoff = None
            finally:
                link.passes += 1
                link.pass_scope, link.syncing = None, None

    async def _pass(self, link: PeerLinkState | None, session: ClientSession,
                    threads: set[ThreadId] | None) -> dict[ThreadId, SyncResult]:
        """Sync with one peer: every thread we share (None), or some."""
        ours = self._threads.thread_ids()
        with trio.fail_after(HELLO_TIMEOUT):
            if threads is None:
                await session.hello(ours, every=True)
                todo = list(session.edges)
            else:
                new = [t for t in threads if t not in session.edges and t in ours]
                if new:
                    await session.hello(new)
                todo = [t for t in threads if t in session.edges]
        if link is not None:
            # It answers: if it fails from here on (it restarts, say), it is
            # retried within seconds, not at the backoff its time offline
            # had grown to.
            link.failures = min(link.failures, 1)
        results: dict[ThreadId, SyncResult] = {}
        log.debug("pass with %s: %d threads shared", session.remote, len(todo))
        if todo and self._gossip is not None:
            self._gossip.allow(session.remote)
        if todo:
            self._reach.proven.note(session.remote)  # it proved a shared thread: it may dial us back
        for thread_id in todo:
            if not session.admitted(thread_id) or not self._threads.holds(thread_id):
                continue  # not admitted, or left since the pass began
            if link is not None:
                link.syncing = thread_id
            self._threads.peers.remember(thread_id, session.remote)
            if not session.in_sync(thread_id):
                with trio.fail_after(REQUEST_TIMEOUT * 10):
                    results[thread_id] = await session.sync_thread(thread_id)
                log.debug("synced %s with %s: %s", thread_id, session.remote, results[thread_id])
            else:  # equal edges: it stands where we do (what the Devices view counts from)
                session.last_heads[thread_id] = {h.log_id: h.seq for h in self._threads.heads(thread_id)}
                session.tell_held(thread_id)
            await self._fetch_blobs(link, session, thread_id)
        if link is not None:
            link.syncing = None
        return results

    async def _fetch_blobs(self, link: PeerLinkState | None, session: ClientSession, thread_id: ThreadId) -> None:
        cursor = link.cursors.get(thread_id, 0) if link else 0
        with trio.fail_after(REQUEST_TIMEOUT):
            entries, cursor = await session.inventory(thread_id, cursor)
        deferred = list({e.cid: e for e in (link.deferred.get(thread_id, []) if link else []) + entries}.values())
        reads = self._threads.thread_keys(thread_id)[0].can_read
        originals = not reads or self._threads.peers.fetch_originals(thread_id)
        asked = self._threads.peers.wanted_blobs(thread_id)
        blobs = self._threads.blobs(thread_id)
        held = blobs.held([e.cid for e in deferred])
        wanted = [e for e in deferred if e.cid not in held and (
            e.priority != ORIGINAL or originals or e.blob in asked)]
        wanted_cids = {e.cid for e in wanted}
        later = [e for e in deferred if e.cid not in held and e.cid not in wanted_cids]
        wanted.sort(key=lambda e: e.priority)  # previews first
        if link is not None:
            link.cursors[thread_id] = cursor
            # Until the transfer succeeds, what it wants stays listed too: a
            # cut transfer is resumed from here, not forgotten.
            link.deferred[thread_id] = later + wanted
        if not wanted:
            return

        def progress(done: int, total: int) -> None:
            report = Progress(thread_id, session.remote, done, total)
            self.transfers[(thread_id, session.remote)] = report
            if self._on_progress is not None:
                self._on_progress(report)
            now = time.monotonic()
            if now - self._last_progress_push >= PROGRESS_PUSH_SECONDS or done == total:
                self._last_progress_push = now
                self._threads.network_changed()

        try:
            with trio.fail_after(REQUEST_TIMEOUT + sum(e.size for e in wanted) / MIN_BYTES_PER_SECOND):
                await session.fetch_blocks(thread_id, wanted, progress)
        finally:
            self.transfers.pop((thread_id, session.remote), None)
            self._threads.network_changed()
        # Blocks the peer did not have stay listed: it may get them later
        # (from the writer it follows, say).
        missing = [e for e in later + wanted if e.cid not in blobs.held([e.cid])]
        if link is not None and self._threads.holds(thread_id):  # not if we left it meanwhile
            link.deferred[thread_id] = missing
        if asked:
            seen = {e.blob for e in deferred}
            self._threads.peers.got_blobs(thread_id, (asked & seen) - {e.blob for e in missing})

    # --- one-off sync (the `sync` command) -------------------------------------------------------

    async def sync_once(self, thread_id: ThreadId | None = None) -> dict[str, object]:
        """Connect to every peer known for the thread (or for any), sync once,
        and report per peer. Joins waiting for an admission are asked first
        (an admitted one is synced with the rest)."""
        if self.joiner is not None and thread_id is None:
            await self.joiner.ask_now()
        peers = self._threads.peers.peers(thread_id) if thread_id else self._threads.peers.all_peers()
        report: dict[str, object] = {}
        for peer in dict.fromkeys(peers):
            try:
                session = await self._open_session(peer)
                try:
                    results = await self._pass(None, session, {thread_id} if thread_id else None)
                finally:
                    await session.close()
                report[str(peer)] = {str(t): {"pulled": r.pulled, "pushed": r.pushed, "refused": r.refused}
                                     for t, r in results.items()} or "in sync"
            except SESSION_ERRORS as exc:
                report[str(peer)] = f"failed: {error_text(exc)}"
            except Exception as exc:  # one peer's failure is a line of the report, not the end of it
                log.exception("sync with %s hit a bug", peer)
                report[str(peer)] = f"failed: {type(exc).__name__}: {exc}"
        return report

    async def invite_directly(self, thread_id: ThreadId, peer: PeerId, role: Role, *,
                              expires_in: float | None = None) -> None:
        """Invite a peer we can reach (found nearby, say) without a link to
        copy: a one-use invite sealed to its key, which it accepts or declines."""
        sighting = self._nearby.get(peer)
        if sighting is not None:
            # Its announced addresses outlive their address book entry (2 min)
            # on the nearby list (10 min): dial where it was seen.
            try:
                self._threads.addresses.add(peer, list(sighting.addresses), DISCOVERED_TTL)
            except ThreadsError as exc:
                log.debug("ignoring addresses of %s: %s", peer, exc)
        session = await self._open_session(peer)
        try:
            with trio.fail_after(REQUEST_TIMEOUT):
                exchange = await session.card()
                sealed = self._threads.seal_invite(thread_id, peer, exchange, role, expires_in,
                                                   self.listen_addresses())  # at most MAX_SHARED
                await session.send_invite(sealed)
                self._threads.peers.remember(thread_id, peer)  # ours to push to once it joins
        finally:
            await session.close()

    @property
    def gossip(self) -> Gossip | None:
        return self._gossip


    def want_original(self, thread_id: ThreadId, blob: bytes) -> None:
        """Fetch an original on demand (the thread fetches them only so)."""
        self._threads.peers.want_blob(thread_id, blob)
        for peer in self._peers_of(thread_id):
            self.schedule(peer, {thread_id})
