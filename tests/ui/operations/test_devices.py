"""The window's device operations: a device link is found in whatever was
pasted (words around it, wrapped over lines, a full stop after it), and any
text gives a link or InvalidLinkError, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.errors import InvalidLinkError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.persons.device_links import new_link
from threads_desktop.ui.operations.devices import find_device_link

PERSON = PeerId.parse("12D3KooWSdp2iBJMBQ6UXMB4XZMjcMMZDuHryfMG2aTmnn6wq6uR")  # any Ed25519 peer ID


def _link() -> str:
    person = Identity.generate().peer_id
    return new_link(person, "Ana's laptop", ("/ip4/127.0.0.1/tcp/4001/p2p/" + str(person),), 1_000).to_uri()


def test_a_device_link_is_found_in_a_message_pasted_whole() -> None:
    link = _link()
    assert find_device_link(f"Here it is: {link}. Thanks!")[0] == link
    assert find_device_link(f"“{link}”")[0] == link
    wrapped = "\n".join(link[i:i + 40] for i in range(0, len(link), 40))
    found, parsed = find_device_link(f"open this\n{wrapped}\n\nbye")
    assert found == link and parsed.name == "Ana's laptop"


def test_an_invite_link_or_a_damaged_one_is_not_a_device_link() -> None:
    with pytest.raises(InvalidLinkError):
        find_device_link("threads://join/abc#def")
    link = _link()
    with pytest.raises(InvalidLinkError):
        find_device_link(link[:-6])  # cut short


@given(st.text(max_size=300), st.text(max_size=50))
def test_any_pasted_text_gives_a_link_or_a_clear_refusal(before: str, after: str) -> None:
    link = new_link(PERSON, "Ana", (), 1_000).to_uri()
    for text in (before, f"{before}threads://device/{after}", f"{before}{link}{after}"):
        try:
            found, parsed = find_device_link(text)
        except InvalidLinkError:
            continue
        assert found.startswith("threads://device/") and parsed.person is not None

