"""JPEGs whose EXIF a hostile peer wrote: an orientation that asks for a
turn, beside a tag of any type, count and value (Pillow's EXIF writer
raised struct.error and TypeError on such tags when the picture was turned)."""

from __future__ import annotations

import io
import struct

from hypothesis import strategies as st
from PIL import Image

# Tags Pillow reads with a type in mind (resolution, offsets, sub-IFDs, text),
# and any other number.
KNOWN_TAGS = (0x010F, 0x0110, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x0201, 0x0202, 0x0213,
              0x02BC, 0x83BB, 0x8649, 0x8769, 0x8825, 0x9003, 0x9286, 0x927C, 0x9C9B, 0xA005, 0x0001)
ORIENTATION = 0x0112
RESOLUTION_UNIT = 0x0128
ASCII = 2


def jpeg_with_exif(exif: bytes, size: tuple[int, int] = (24, 16)) -> bytes:
    """A plain red JPEG carrying `exif` (a TIFF block) in its APP1 segment."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=b"Exif\x00\x00" + exif)
    return out.getvalue()


def tiff_block(entries: list[tuple[int, int, int, bytes]], *, big_endian: bool = False, tail: bytes = b"") -> bytes:
    """A TIFF header and one IFD of (tag, type, count, 4 value bytes) entries, then `tail`."""
    order = ">" if big_endian else "<"
    ifd = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(order + "HHI", tag, kind, count) + value
    header = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(order + "I", 8)
    return header + ifd + struct.pack(order + "I", 0) + tail


def orientation_entry(value: int, *, big_endian: bool = False) -> tuple[int, int, int, bytes]:
    order = ">" if big_endian else "<"
    return ORIENTATION, 3, 1, struct.pack(order + "HH", value, 0)


def turned_with_a_badly_typed_tag() -> bytes:
    """The reviewer's case: turned a quarter, and a resolution unit stored as text."""
    return jpeg_with_exif(tiff_block(sorted([orientation_entry(6), (RESOLUTION_UNIT, ASCII, 4, b"abc\x00")])))


@st.composite
def turned_jpegs_with_any_second_tag(draw: st.DrawFn) -> bytes:
    big_endian = draw(st.booleans())
    orientation = draw(st.integers(0, 0xFFFF).filter(lambda value: value != 1))
    tag = draw(st.one_of(st.sampled_from(KNOWN_TAGS), st.integers(0, 0xFFFF)))
    kind = draw(st.integers(0, 20))
    count = draw(st.one_of(st.sampled_from([0, 1, 2, 4, 8, 100, 0xFFFFFFFF]), st.integers(0, 64)))
    value = draw(st.binary(min_size=4, max_size=4))
    entries = [orientation_entry(orientation, big_endian=big_endian), (tag, kind, count, value)]
    if draw(st.booleans()):
        entries.sort()
    return jpeg_with_exif(tiff_block(entries, big_endian=big_endian, tail=draw(st.binary(max_size=48))))


def jpegs_with_any_exif_block() -> st.SearchStrategy[bytes]:
    """Random bytes as the EXIF block, with or without a valid TIFF header."""
    return st.builds(jpeg_with_exif, st.one_of(
        st.binary(max_size=512),
        st.builds(lambda header, rest: header + rest, st.sampled_from([b"II*\x00", b"MM\x00*"]),
                  st.binary(max_size=512))))
