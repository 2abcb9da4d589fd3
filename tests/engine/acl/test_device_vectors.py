"""docs/PROTOCOL.md §"Persons and devices" gives these vectors: a person
key of seed bytes 0..31 certifies the device of seed bytes 32..63, named
"Alice's desktop", at 1765000000000 ms, and removes it at 1765000600000 ms.
Ed25519 signatures are deterministic, so the bytes are fixed."""

from __future__ import annotations

from threads_desktop.engine.acl.devices import DeviceCert, DeviceRemoval, issue_cert, item_from_bytes, sign_removal
from threads_desktop.engine.core.keys import SigningKey

PERSON = SigningKey.from_seed(bytes(range(32)))
DEVICE = SigningKey.from_seed(bytes(range(32, 64))).peer_id
PERSON_ID = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"
DEVICE_ID = "12D3KooWCd3eX8r5ihRvzK7P1yPq5aakaBJhG5GNj18YTztPhoCa"
SIGNED = ("8570746872656164732f312f646576696365582600240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f"
          "1ddc8664125531b8582600240801122029acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd76f41"
          "6c6963652773206465736b746f701b0000019af232b200")
CERT = ("a563736967584063e4c146658dd1996426b4610994a559aff2ac183be28bcf02776051d9889541ecb2a1ee5772143d18b03e"
        "60ac71c3a2ca6b46c1946bdbdc6478d35ef42a8b0c646e616d656f416c6963652773206465736b746f706561646465641b000001"
        "9af232b20066646576696365582600240801122029acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"
        "66706572736f6e582600240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
REMOVAL = ("a463736967584022f029d53cc8ca4104d6eb5d0b825023e967cc462896f1483a76446ca2140565c51915afa518ffddc8d034"
           "0e02f7587ee82f472fcdf3bc555922bee77df87c0666646576696365582600240801122029acbae141bccaf0b22e1a94d34d"
           "0bc7361e526d0bfe12c89794bc9322966dd766706572736f6e582600240801122003a107bff3ce10be1d70dd18e74bc09967"
           "e4d6309ba50d5f1ddc8664125531b86772656d6f7665641b0000019af23bd9c0")


def test_the_certificate_matches_its_test_vector() -> None:
    assert (str(PERSON.peer_id), str(DEVICE)) == (PERSON_ID, DEVICE_ID)
    cert = issue_cert(PERSON, DEVICE, "Alice's desktop", 1_765_000_000_000)
    assert cert.message().hex() == SIGNED
    assert cert.to_bytes().hex() == CERT
    assert item_from_bytes(bytes.fromhex(CERT)) == cert


def test_the_removal_matches_its_test_vector() -> None:
    removal = sign_removal(PERSON, DEVICE, 1_765_000_600_000)
    assert removal.to_bytes().hex() == REMOVAL
    parsed = item_from_bytes(bytes.fromhex(REMOVAL))
    assert isinstance(parsed, DeviceRemoval) and parsed == removal and not isinstance(parsed, DeviceCert)
