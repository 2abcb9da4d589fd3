"""The flows that carry a person to another device (issue 19): a bundle built
from this profile, installed into a fresh one; the issuing device's answer
to a device request; the new device's side of a device link; a backup
exported and restored.

Installing is all or nothing: the bundle is decoded and checked whole, then
written in one transaction (`adopt`, each thread, peers, settings). The
content of the threads is not in the bundle: the network brings it from
peers (any device of the person, a friend, a follower) once the new device
holds the keys and its certificate.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import trio

from threads_desktop.engine.acl.devices import DeviceCert, DeviceItem, issue_cert, item_from_bytes
from threads_desktop.engine.core.errors import (
    BackupError,
    ConflictError,
    FileWriteError,
    InvalidInputError,
    PeerError,
    ProtocolError,
    ThreadsError,
    TooLargeError,
)
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.types import FetchOriginals, ThreadSummary
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.addressbook import AddressBook, peer_of_address
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.peerbook import PeerBook
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.persons import backup
from threads_desktop.engine.persons.bundle import MAX_PEERS, BundlePeer, BundleThread, PersonBundle
from threads_desktop.engine.persons.device_links import MAX_ADDRESSES as MAX_LINK_ADDRESSES
from threads_desktop.engine.persons.device_links import (
    DeviceAnswer,
    DeviceLink,
    DeviceLinks,
    DeviceRequest,
    Refusal,
)
from threads_desktop.engine.persons.service import Persons, clean_device_name

log = logging.getLogger(__name__)

PEER_ADDRESS_TTL = 7 * 24 * 3600.0  # addresses a bundle carries: hints, tried for a week
REFUSAL_WORDS: dict[Refusal, str] = {
    "spent": "this link was used already: ask for a new one on your other device",
    "expired": "this link has expired (links last 15 minutes): ask for a new one on your other device",
    "unknown": "your other device does not know this link: ask for a new one there",
    "large": "your other device holds too many albums and chats to send them over a link",
}


class DeviceLinkRefused(PeerError):
    """The issuing device said no: the link is spent, expired or unknown to it."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(REFUSAL_WORDS[reason])
        self.reason = reason


class Profile(Protocol):
    """What the flows need of a profile (the Node has it all)."""

    @property
    def persons(self) -> Persons: ...

    @property
    def database(self) -> Database: ...

    @property
    def store(self) -> LogStore: ...

    @property
    def peers(self) -> PeerBook: ...

    @property
    def addresses(self) -> AddressBook: ...

    @property
    def identity(self) -> Identity: ...

    def list_threads(self) -> list[ThreadSummary]: ...

    def display_name(self) -> str: ...
    @property
    def listen_addresses(self) -> list[str]: ...

    def set_display_name(self, name: str) -> None: ...


# --- a bundle of this profile, and installing one ---------------------------------------------------


def build_bundle(profile: Profile, own_addresses: Sequence[str] = ()) -> PersonBundle:
    """Everything a new device of this person needs, but the content. Its
    peers: those of each thread, and the person's other devices (which
    hold every thread), this one at `own_addresses` (default: where it
    listens now, so a restore while it runs finds it directly)."""
    own_addresses = own_addresses or profile.listen_addresses
    persons = profile.persons
    threads = tuple(BundleThread(summary.thread_id, summary.kind, summary.name,
                                 tuple(profile.store.thread_keys(summary.thread_id)))
                    for summary in profile.list_threads())
    held = tuple(t.thread_id for t in threads)
    me = profile.identity.peer_id
    devices = [PeerId.parse(d.device_id) for d in persons.devices() if not d.removed and not d.this_device]
    peers = [BundlePeer(me, tuple(_usable(own_addresses)), held)] if own_addresses and held else []
    peers += [BundlePeer(device, tuple(_usable(profile.addresses.addresses(device))), held)
              for device in devices if held and profile.addresses.addresses(device)]
    for peer in profile.peers.all_peers()[:MAX_PEERS - len(peers)]:
        shared = tuple(t for t in profile.peers.threads_of(peer) if t in held)
        if shared and peer != me and peer not in devices:
            peers.append(BundlePeer(peer, tuple(_usable(profile.addresses.addresses(peer))), shared))
    settings = {"fetch_originals": local_settings.fetch_originals(profile.database).value,
                "relays": local_settings.relay_addresses(profile.database),
                "upnp": local_settings.upnp_enabled(profile.database)}
    return PersonBundle(
        person_seed=persons.person_seed(), name=profile.display_name() or None,
        devices=tuple(item.to_bytes() for item in persons.book.items()), threads=threads, peers=tuple(peers),
        settings=settings)


def _usable(addresses: Sequence[str]) -> list[str]:
    return [a for a in addresses if 1 <= len(a) <= 256 and a.startswith("/") and a.isascii()][:8]


def install_bundle(profile: Profile, bundle: PersonBundle, cert: DeviceCert, senders: Sequence[PeerId] = ()) -> None:
    """Make this fresh profile another device of the bundle's person, holding
    every thread of the bundle (ConflictError if it holds some already).
    `senders`: the device that sent it (a device link's). Each thread's
    peers in the bundle, and the senders, are the only peers it syncs with
    until it knows a member of it (Membership.may_sync). One transaction:
    on any error nothing is kept."""
    known: list[DeviceItem] = []
    for entry in bundle.devices:
        try:
            known.append(item_from_bytes(entry))
        except ThreadsError as exc:  # one bad entry costs only itself: the certificate we need is `cert`
            log.info("a device entry of the bundle left out: %s", exc)
    with profile.database.write():
        profile.persons.adopt(bundle.person_seed, cert, known)
        named: dict[ThreadId, list[PeerId]] = {}
        for peer in bundle.peers:
            for thread_id in peer.threads:
                named.setdefault(thread_id, []).append(peer.peer)
        for thread in bundle.threads:
            profile.persons.add_thread(thread.thread_id, thread.kind, thread.name, thread.keys,
                                       [*senders, *named.get(thread.thread_id, ())])
        for peer in bundle.peers:
            for thread_id in peer.threads:
                profile.peers.remember(thread_id, peer.peer, peer.addresses, PEER_ADDRESS_TTL)
        _install_settings(profile.database, bundle)
        if bundle.name:
            profile.set_display_name(bundle.name)


def _install_settings(database: Database, bundle: PersonBundle) -> None:
    settings = bundle.settings
    try:
        if isinstance(settings.get("fetch_originals"), str):
            local_settings.store_fetch_originals(database, FetchOriginals(settings["fetch_originals"]))
        if isinstance(settings.get("relays"), list):
            local_settings.store_relay_addresses(database, list(settings["relays"]))
        if isinstance(settings.get("upnp"), bool):
            local_settings.store_upnp_enabled(database, settings["upnp"])
    except (ValueError, InvalidInputError) as exc:  # a setting this version does not take: the default stays
        log.info("a setting of the bundle left out: %s", exc)


# --- the issuing device ------------------------------------------------------------------------------


def issue_device_link(profile: Profile, links: DeviceLinks, addresses: Sequence[str]) -> DeviceLink:
    """A new device link of this person, naming this device and where it
    listens (one use, 15 minutes)."""
    persons = profile.persons
    cert = persons.this_cert()
    name = (cert.name if cert is not None else "") or profile.display_name() or None
    return links.issue(PeerId.parse(persons.person_id), name, tuple(addresses[:MAX_LINK_ADDRESSES]))


class DeviceIssuer:
    """Answers device requests (net/devicing.Devicing): checks the request,
    then the link; an unspent, unexpired one certifies the asking device,
    is spent, and the bundle goes back sealed to the device's exchange key."""

    def __init__(self, profile: Profile, links: DeviceLinks, random_bytes: Callable[[int], bytes] = os.urandom,
                 bundle: Callable[[Profile], PersonBundle] = build_bundle) -> None:
        self._profile = profile
        self._links = links
        self._bundle = bundle
        self._random_bytes = random_bytes
        self.added: list[PeerId] = []  # devices added since this process started (for the CLI's wait)

    def answer(self, request: bytes, peer: PeerId) -> bytes:
        try:
            parsed = DeviceRequest.from_bytes(request)
            parsed.verify()
        except InvalidInputError as exc:
            raise ProtocolError(f"not a device request: {exc}") from None
        if parsed.device != peer:
            raise ProtocolError("a device request is sent by the device it names")
        refusal = self._links.refusal(parsed.link)
        if refusal is not None:
            log.info("device request of %s refused: the link is %s", peer, refusal)
            return DeviceAnswer(refused=refusal).to_bytes()
        try:
            with self._profile.database.write():
                try:
                    self._profile.persons.issue_cert(peer, parsed.name)
                except InvalidInputError as exc:  # a device removed once is never added again: say so
                    raise ProtocolError(str(exc)) from None
                self._links.spend(parsed.link, peer)
                # Sealed and sized before the transaction commits: an answer too
                # large to send undoes the certificate and leaves the link open.
                answer = DeviceAnswer.added(self._bundle(self._profile).to_bytes(), parsed.exchange,
                                            self._random_bytes).to_bytes()
        except TooLargeError as exc:
            log.warning("device request of %s refused, the link left open: %s", peer, exc)
            return DeviceAnswer(refused="large").to_bytes()
        self.added.append(peer)
        log.info("%s is another device of this person now (%d bytes of answer)", peer, len(answer))
        return answer


# --- the new device -------------------------------------------------------------------------------------

AskDevice = Callable[[Sequence[str], bytes], Awaitable[bytes]]


async def become_device(profile: Profile, link: DeviceLink, name: str, ask: AskDevice) -> PersonBundle:
    """Ask the link's device for this profile to become another device of
    the link's person, and install what it sends (DeviceLinkRefused when it
    says no; PeerError when no device of the link answers)."""
    _require_fresh(profile)  # before the link is spent on a profile that cannot take it
    identity = profile.identity
    request = DeviceRequest.make(link, identity.peer_id, identity.exchange_public_key(), name)
    answer = DeviceAnswer.from_bytes(await ask(link.addresses, request.to_bytes()))
    if answer.refused is not None:
        raise DeviceLinkRefused(answer.refused)
    # 10,000 threads take ~0.8 s to decode and check: not on the engine thread.
    bundle = await trio.to_thread.run_sync(PersonBundle.from_bytes, answer.open(identity.exchange))
    if SigningKey.from_seed(bundle.person_seed).peer_id != link.person:
        raise ProtocolError("the device answered with another person than the link's")
    # The device that added us holds every thread: the first peer to sync them with.
    senders = {address: peer for address in link.addresses
               if (peer := peer_of_address(address)) is not None and peer != identity.peer_id}
    with profile.database.write():
        install_bundle(profile, bundle, _our_cert(bundle, link.person, identity.peer_id),
                       list(dict.fromkeys(senders.values())))
        for address, peer in senders.items():
            for thread in bundle.threads:
                profile.peers.remember(thread.thread_id, peer, [address], PEER_ADDRESS_TTL)
    return bundle


def _require_fresh(profile: Profile) -> None:
    if profile.list_threads() or profile.persons.person_id != str(profile.identity.peer_id):
        raise ConflictError("this profile has albums, chats or devices already: use a new, empty data folder")


def _our_cert(bundle: PersonBundle, person: PeerId, device: PeerId) -> DeviceCert:
    for entry in bundle.devices:
        try:
            item = item_from_bytes(entry)
        except ThreadsError:
            continue
        if isinstance(item, DeviceCert) and item.person == person and item.device == device:
            return item
    raise ProtocolError("the device answered without a certificate for this device")


# --- backups --------------------------------------------------------------------------------------------


async def export_backup(profile: Profile, path: Path, passphrase: str, own_addresses: Sequence[str] = ()) -> int:
    """Write a backup of this person to `path` (made aside, then renamed in;
    readable by its owner only). Returns the file's size."""
    bundle = build_bundle(profile, own_addresses).to_bytes()
    data = await trio.to_thread.run_sync(backup.seal, bundle, passphrase)  # Argon2id: ~0.4 s
    await trio.to_thread.run_sync(_write_private, path, data)
    return len(data)


def _write_private(path: Path, data: bytes) -> None:
    # A name nobody can guess, made new (O_EXCL) and never through a link
    # (O_NOFOLLOW): in a shared folder, a link planted at a predictable name
    # made the export overwrite the file it pointed to.
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    try:
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, path)
    except FileExistsError:
        raise FileWriteError(f"cannot save the backup as {path}: try again") from None
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise FileWriteError(f"cannot save the backup as {path}: {exc.strerror or exc}") from None


async def read_backup(path: Path, passphrase: str) -> PersonBundle:
    """The bundle in a backup file (BackupError: wrong passphrase, damaged or
    not a backup). Nothing is written: `check a backup's passphrase`."""
    data = await trio.to_thread.run_sync(_read_bounded, path)
    try:
        return await trio.to_thread.run_sync(_open_bundle, data, passphrase)
    except BackupError:
        raise
    except InvalidInputError:  # opened, yet no bundle inside: made by something else
        raise BackupError(backup.DAMAGED) from None


def _open_bundle(data: bytes, passphrase: str) -> PersonBundle:
    return PersonBundle.from_bytes(backup.open_backup(data, passphrase))


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(backup.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BackupError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if len(data) > backup.MAX_FILE_BYTES:
        raise BackupError(backup.DAMAGED)
    return data


async def restore_backup(profile: Profile, path: Path, passphrase: str, name: str, now_ms: int) -> PersonBundle:
    """Make this fresh profile a NEW device of the backup's person (its own
    identity: the old device's logs went on after the backup), certified by
    the person key the backup holds, with every thread of the backup.
    BackupError (nothing written) for a wrong passphrase or a damaged file."""
    _require_fresh(profile)
    bundle = await read_backup(path, passphrase)
    person_key = SigningKey.from_seed(bundle.person_seed)
    cert = issue_cert(person_key, profile.identity.peer_id, clean_device_name(name), now_ms)
    install_bundle(profile, bundle, cert)
    return bundle
