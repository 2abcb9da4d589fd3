"""How a thread's ACL treats a person's devices (issue 19), apart from
acl/policy.py so that it stays readable.

- A log bound with a device certificate belongs to the certificate's person
  (`certified_person`); roles, names and notices are the person's.
- An `Undevice` op, signed by the person key, removes a device for good.
  The device's events that are not in the causal past of every such op
  naming it are refused (as a removed member's concurrent writes are), it
  gets no key boxes, and an epoch it may hold is unclean (an admin heals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from threads_desktop.engine.acl.control_ops import Undevice
from threads_desktop.engine.acl.devices import MAX_DEVICES, DeviceCert
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId


class AclEvent(Protocol):
    """What of policy.AclEvent these rules read (policy imports this module)."""

    @property
    def log(self) -> bytes: ...
    @property
    def seq(self) -> int: ...
    @property
    def deps(self) -> Mapping[bytes, int]: ...
    @property
    def ops(self) -> tuple[Any, ...]: ...


class Binding(Protocol):
    """What of policy.Binding these rules read."""

    @property
    def device(self) -> str: ...
    @property
    def member(self) -> str: ...


def certified_person(device: PeerId, cert: DeviceCert | None) -> PeerId:
    """The person a bind or admit names: the certificate's, if it certifies
    this device and its person key signed it; the device itself without one.
    InvalidInputError for a certificate that does not hold."""
    if cert is None:
        return device
    if cert.device != device:
        raise InvalidInputError("the device certificate names another device")
    cert.verify()
    return cert.person


class Removals:
    """The `Undevice` ops of a thread's ACL history that count, and what they
    mean for its logs. Depends on signatures and bindings only (never on
    verdicts), so the policy may ask it while judging; and on the *set* of
    bindings, never on their order, so every peer counts the same removals.

    A removal (person P, device D) counts when P is one of the persons D's
    bindings name (a device may bind several logs, with or without a
    certificate: any of them is enough, so a removed device cannot undo its
    removal with a second binding); for a device bound nowhere here (it may
    hold keys from its person's bundle), when P is a person some log is bound
    to, at most MAX_DEVICES such devices a person (the bound ones first, then
    by device), so no member forces rotations without end. A counted removal
    removes the device: every log of it."""

    def __init__(self, events: Sequence[AclEvent], bindings: Mapping[bytes, Binding]) -> None:
        persons: dict[str, set[str]] = {}
        for binding in bindings.values():
            persons.setdefault(binding.device, set()).add(binding.member)
        self._persons = {device: frozenset(found) for device, found in persons.items()}
        members = {binding.member for binding in bindings.values()}
        self._bindings = bindings
        named: set[str] = set()
        found: dict[str, dict[str, list[AclEvent]]] = {}  # person -> device -> the events removing it
        for event in events:
            for op in event.ops:
                if not isinstance(op, Undevice):
                    continue
                device, person = str(op.removal.device), str(op.removal.person)
                named |= {device, person}
                if person not in self._persons.get(device, members):
                    continue  # only its own person removes a device
                try:
                    op.removal.verify()
                except InvalidInputError:
                    continue
                found.setdefault(person, {}).setdefault(device, []).append(event)
        self.named: frozenset[str] = frozenset(named)  # every device and person an Undevice names, counted or not
        self._by_device: dict[str, list[AclEvent]] = {}
        self._removed_by: dict[str, set[str]] = {}  # device -> the persons that removed it
        self._counted: set[tuple[bytes, int, str]] = set()  # (log, seq, device) of each removal that counts
        for person, devices in found.items():
            for device in sorted(devices, key=lambda d: (d not in self._persons, d))[:MAX_DEVICES]:
                for event in devices[device]:
                    if (event.log, event.seq, device) not in self._counted:
                        self._counted.add((event.log, event.seq, device))
                        self._by_device.setdefault(device, []).append(event)
                self._removed_by.setdefault(device, set()).add(person)

    def persons_of(self, device: str) -> frozenset[str]:
        """Every member the device's bindings here name (none when unbound)."""
        return self._persons.get(device, frozenset())

    def person_of(self, device: str) -> str:
        """The member a device speaks for (itself when it has no certificate
        here); of several, a certified one first, then the least (the same
        on every peer)."""
        found = self._persons.get(device)
        if not found:
            return device
        return min(found, key=lambda person: (person == device, person))

    def is_removed(self, device: str) -> bool:
        return device in self._by_device

    def removed_by(self, device: str) -> frozenset[str]:
        """The persons whose removals of the device count."""
        return frozenset(self._removed_by.get(device, ()))

    def removed_devices(self, person: str | None = None) -> frozenset[str]:
        """Every device removed (`person`: of that person)."""
        return frozenset(d for d, by in self._removed_by.items() if person is None or person in by)

    def removes(self, log: bytes, seq: int) -> frozenset[str]:
        """The devices the event (log, seq) removes by a removal that counts."""
        return frozenset(device for at_log, at_seq, device in self._counted if (at_log, at_seq) == (log, seq))

    def refuses(self, log: bytes, seq: int, deps: Mapping[bytes, int]) -> bool:
        """Is the event (log, seq, deps) by a removed device, and not in the
        past of (or itself) every removal of it?"""
        binding = self._bindings.get(log)
        return binding is not None and self.removed_after(binding.device, log, seq, deps)

    def removed_after(self, device: str, log: bytes, seq: int, deps: Mapping[bytes, int]) -> bool:
        """Is `device` removed by a removal that the event (log, seq, deps)
        is not in the past of (nor is itself)? An admit of it then lets in a
        device that is out for good."""
        for removal in self._by_device.get(device, ()):
            seen = (removal.log, removal.seq) == (log, seq) or (
                seq < removal.seq if removal.log == log else removal.deps.get(log, 0) >= seq)
            if not seen:
                return True
        return False

    def told(self, device: str) -> dict[bytes, int]:
        """What a removed device, refused sync, may still be served so that
        its own app learns it was removed (as acl/verdicts.py does for a
        removed member): per log, the last seq of the removals of it and
        their causal past."""
        cap: dict[bytes, int] = {}
        for removal in self._by_device.get(device, ()):
            for log, seq in [(removal.log, removal.seq), *removal.deps.items()]:
                if seq > cap.get(log, 0):
                    cap[log] = seq
        return cap
