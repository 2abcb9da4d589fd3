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
    """The valid `Undevice` ops of a thread's ACL history, and what they mean
    for its logs. Depends on signatures and bindings only (never on
    verdicts), so the policy may ask it while judging."""

    def __init__(self, events: Sequence[AclEvent], bindings: Mapping[bytes, Binding]) -> None:
        # Every person a device is bound under: a device's key alone signs a
        # Bind, so it may bind a second log as another person (itself, or a
        # made-up one). A removal by any of them counts, and for every log of
        # the device, whatever order the bindings arrived in.
        self._persons: dict[str, set[str]] = {}
        self._first: dict[str, str] = {}  # device -> the person of its smallest log's binding
        for log in sorted(bindings):
            binding = bindings[log]
            self._persons.setdefault(binding.device, set()).add(binding.member)
            self._first.setdefault(binding.device, binding.member)
        members = set().union(*self._persons.values())
        self._bindings = bindings
        self._by_device: dict[str, list[AclEvent]] = {}
        self._removed_by: dict[str, str] = {}  # device -> the person that removed it
        counted: dict[str, int] = {}  # person -> devices it removed here
        for event in events:
            for op in event.ops:
                if not isinstance(op, Undevice):
                    continue
                device, person = str(op.removal.device), str(op.removal.person)
                if person not in self._persons.get(device, {person} & members):
                    # Only its own person removes a device; one not bound here
                    # (it may hold keys from its person), only a member person:
                    # a made-up key "removing itself" would force rotations.
                    continue
                if device not in self._removed_by and counted.get(person, 0) >= MAX_DEVICES:
                    continue  # a person has at most so many devices: more removals force no more rotations
                try:
                    op.removal.verify()
                except InvalidInputError:
                    continue
                counted[person] = counted.get(person, 0) + (device not in self._removed_by)
                self._by_device.setdefault(device, []).append(event)
                self._removed_by[device] = person

    def person_of(self, device: str) -> str:
        """The member a device speaks for (itself when it has no certificate
        here): the person of its first binding, by log ID, if it has several."""
        return self._first.get(device, device)

    def persons_of(self, device: str) -> frozenset[str]:
        """Every person the device is bound under here (itself if unbound)."""
        return frozenset(self._persons.get(device, {device}))

    def is_removed(self, device: str) -> bool:
        return device in self._by_device

    def removed_devices(self, person: str | None = None) -> frozenset[str]:
        """Every device removed (`person`: of that person)."""
        return frozenset(d for d, by in self._removed_by.items() if person is None or by == person)

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
