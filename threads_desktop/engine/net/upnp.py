"""A port mapping on the home router (UPnP IGD), kept in the background.

py-libp2p's own UpnpManager is not used: it blocks start-up while it
discovers the router (1-4 s), maps only the same external port, never renews
the lease, and its mapping is never advertised (docs/LIBP2P-NOTES.md). Here
miniupnpc's blocking calls run on a worker thread; the mapper discovers the
router, maps our TCP listen port (the same external port if free, else
another), renews the lease at half-time, and removes the mapping when
switched off or on exit (shielded, bounded in time). It does not advertise
the mapping: reachability.py does, once a peer has dialled it back.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import trio

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE_SECONDS = 3600
DISCOVER_MILLISECONDS = 2000  # how long SSDP discovery listens for the router
REDISCOVER_SECONDS = 600.0  # no router found, or it failed: look again this much later
RETRY_SECONDS = 60.0  # the router refused or failed a mapping
REMOVE_SECONDS = 5.0  # on exit the removal may take this long, no longer
PORT_ATTEMPTS = 8  # the same port, then other random ones
DESCRIPTION = "Threads Desktop"


class GatewayError(Exception):
    """The router failed a request (miniupnpc raises bare Exceptions)."""


class ConflictError(GatewayError):
    """The external port is mapped to someone else."""


class Gateway(Protocol):
    """A discovered IGD. Every method blocks: call on a worker thread."""

    @property
    def lan_address(self) -> str: ...

    def external_ip(self) -> str: ...

    def add(self, external_port: int, internal_port: int, lease: int) -> None: ...

    def remove(self, external_port: int) -> None: ...


class MiniupnpcGateway:
    """miniupnpc's UPnP client, with errors as GatewayError."""

    def __init__(self, client: Any) -> None:
        self._client = client
        # A call abandoned on cancel may still run on its thread when the
        # removal on exit starts: one call at a time on the C client.
        self._lock = threading.Lock()

    @classmethod
    def discover(cls) -> MiniupnpcGateway | None:
        """Find the router by SSDP (blocks ~DISCOVER_MILLISECONDS); None if none answers."""
        import miniupnpc  # type: ignore[import-not-found]  # a py-libp2p dependency, imported when used

        client = miniupnpc.UPnP()
        client.discoverdelay = DISCOVER_MILLISECONDS
        try:
            if not client.discover():
                return None
            client.selectigd()
        except Exception as exc:  # miniupnpc raises bare Exceptions  # noqa: BLE001
            log.info("no UPnP router: %s", exc)
            return None
        return cls(client)

    @property
    def lan_address(self) -> str:
        return str(self._client.lanaddr)

    def external_ip(self) -> str:
        return str(self._call(self._client.externalipaddress))

    def add(self, external_port: int, internal_port: int, lease: int) -> None:
        self._call(self._client.addportmapping, external_port, "TCP", self.lan_address, internal_port,
                   DESCRIPTION, "", lease)

    def remove(self, external_port: int) -> None:
        self._call(self._client.deleteportmapping, external_port, "TCP")

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            with self._lock:
                return method(*args)
        except Exception as exc:
            text = str(exc)
            if "Conflict" in text:
                raise ConflictError(text) from exc
            raise GatewayError(text or type(exc).__name__) from exc


@dataclass(frozen=True, slots=True)
class PortMapping:
    external_ip: str
    external_port: int
    internal_port: int
    lease: int  # seconds; 0 for a router that grants only permanent mappings

    @property
    def address(self) -> str:
        return f"/ip4/{self.external_ip}/tcp/{self.external_port}"


class PortMapper:
    """Keeps one TCP port mapping while `enabled()`; run() until cancelled."""

    def __init__(self, *, internal_port: int, enabled: Callable[[], bool],
                 on_change: Callable[[PortMapping | None], None],
                 discover: Callable[[], Gateway | None] = MiniupnpcGateway.discover,
                 lease: int = LEASE_SECONDS, rng: random.Random | None = None) -> None:
        self._internal_port = internal_port
        self._enabled = enabled
        self._on_change = on_change
        self._discover = discover
        self._lease = lease
        self._rng = rng or random.Random()
        self._gateway: Gateway | None = None
        self._changed = trio.Event()
        self.mapping: PortMapping | None = None

    def settings_changed(self) -> None:
        """The UPnP setting may have changed: look at it again now."""
        self._changed.set()

    def network_changed(self) -> None:
        """Another network: the mapping was on the old router; find the new one."""
        self._gateway = None
        self._set(None)
        self._changed.set()

    async def run(self) -> None:
        try:
            while True:
                self._changed = trio.Event()
                try:
                    wait = await self._step()
                except Exception:  # our bug must not take the network down: log it, try later
                    log.exception("the port mapper hit a bug")
                    wait = RETRY_SECONDS
                with trio.move_on_after(wait):
                    await self._changed.wait()
        finally:
            with trio.move_on_after(REMOVE_SECONDS) as scope:
                scope.shield = True
                await self._unmap()

    async def _step(self) -> float:
        """Do what the setting asks now; how long until the next step."""
        if not self._enabled():
            await self._unmap()
            return float("inf")
        if self._gateway is None:
            self._gateway = await _blocking(self._discover)
            if self._gateway is None:
                return REDISCOVER_SECONDS
        try:
            mapping = await self._map(self._gateway)
        except GatewayError as exc:
            log.info("the router refused a port mapping: %s", exc)
            self._gateway = None  # it may have restarted elsewhere: discover again
            self._set(None)
            return RETRY_SECONDS
        self._set(mapping)
        return mapping.lease / 2 if mapping.lease else REDISCOVER_SECONDS

    async def _map(self, gateway: Gateway) -> PortMapping:
        """Renew the mapping we hold, or make one: our own port outside if
        free, else random others."""
        held = self.mapping
        ports = [held.external_port] if held else []
        ports += [self._internal_port] + [self._rng.randrange(20000, 60000) for _ in range(PORT_ATTEMPTS - 1)]
        external_ip = await _blocking(gateway.external_ip)
        for port in dict.fromkeys(ports):
            for lease in (self._lease, 0):
                try:
                    await _blocking(lambda: gateway.add(port, self._internal_port, lease))  # noqa: B023
                    return PortMapping(external_ip, port, self._internal_port, lease)
                except ConflictError:
                    break  # someone else's: try another port
                except GatewayError as exc:
                    if lease == 0 or "Permanent" not in str(exc):
                        raise
                    # OnlyPermanentLeasesSupported (725): map without a lease
        raise GatewayError(f"no free external port after {PORT_ATTEMPTS} attempts")

    async def _unmap(self) -> None:
        mapping, gateway = self.mapping, self._gateway
        if mapping is None or gateway is None:
            return
        try:
            await _blocking(lambda: gateway.remove(mapping.external_port))
            log.info("removed the port mapping %s", mapping.address)
        except GatewayError as exc:
            log.info("could not remove the port mapping %s: %s", mapping.address, exc)
        self._set(None)

    def _set(self, mapping: PortMapping | None) -> None:
        if mapping != self.mapping:
            self.mapping = mapping
            log.info("port mapping: %s", mapping.address if mapping else None)
            self._on_change(mapping)


async def _blocking(call: Callable[[], T]) -> T:
    """On a worker thread; abandoned if cancelled (a router that hangs
    never holds up going offline)."""
    return await trio.to_thread.run_sync(call, abandon_on_cancel=True)  # type: ignore[call-arg]  # mypy misreads Unpack[Ts] + a TypeVar
