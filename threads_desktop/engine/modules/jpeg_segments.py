"""A JPEG file's structure read byte by byte: its segments up to the first
scan, where the picture ends, and whether the first scan can hold what the
frame header claims.

Pillow (libjpeg) decodes a scan that ends early without an error: it fills
the missing blocks with nothing and reports the size the header claims. So a
header patched to claim 13000x13000 over 1600x1200 pixels of data decodes
"fine". Every block costs at least a few bits of entropy-coded data (its DC
code and, in a sequential file, an end-of-block code), so a scan shorter
than that minimum cannot hold the claimed frame, and the file is refused."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from threads_desktop.engine.core.errors import InvalidInputError

EOI, SOS, DHT, COM = 0xD9, 0xDA, 0xC4, 0xFE
APP0, APP1, APP2, APP14, APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
HUFFMAN_SEQUENTIAL = (0xC0, 0xC1)  # baseline and extended: one pass per block
HUFFMAN_PROGRESSIVE = 0xC2
FRAMES = frozenset(range(0xC0, 0xD0)) - {DHT, 0xC8, 0xCC}
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length: TEM, RSTn


@dataclass(frozen=True, slots=True)
class Segment:
    marker: int
    start: int  # of the 0xFF before the marker
    end: int    # just past the segment

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 4:self.end]


# The application segments a decoder needs (JFIF density, the colour profile,
# Adobe's colour transform); every other one (XMP, IPTC/Photoshop, MPF,
# vendor blocks) and every comment can carry anything, a location included.
_NEEDED_APP = {APP0: b"JFIF\x00", APP2: b"ICC_PROFILE\x00", APP14: b"Adobe"}
_EXIF = b"Exif\x00\x00"


@dataclass(frozen=True, slots=True)
class JpegLayout:
    """Where a JPEG's parts are: its header segments up to the first SOS,
    then each piece after it (see `_picture_after_first_scan`). Found once
    per photo: the scan for markers reads every byte of the picture, and
    both the completeness check and the metadata cleaning need it."""

    segments: list[Segment]
    pieces: list[tuple[int | None, int, int]]

    @classmethod
    def of(cls, data: bytes) -> JpegLayout:
        segments = header_segments(data)
        return cls(segments, list(_picture_after_first_scan(data, segments)))

    def first_scan_end(self) -> int:
        """Where the first scan's entropy-coded data ends."""
        first = self.pieces[0] if self.pieces else None
        return first[2] if first is not None and first[0] is None else self.segments[-1].end


def without_metadata(data: bytes, exif: bytes | None, layout: JpegLayout | None = None) -> bytes:
    """The JPEG with only what decoding and showing it needs: its EXIF
    segment replaced by `exif` (kept as it is when None, dropped when
    empty), every other application segment but JFIF, ICC and Adobe
    dropped, comments dropped (between a progressive file's scans too), and
    nothing after the picture's end. The picture's bytes are unchanged."""
    layout = layout or JpegLayout.of(data)
    segments = layout.segments
    parts = [b"\xff\xd8"]
    exif_done = False
    for segment in segments:
        payload = segment.payload(data)
        if segment.marker == APP1 and payload.startswith(_EXIF):
            if not exif_done:  # the first is the one readers use
                if exif is None:
                    parts.append(data[segment.start:segment.end])
                elif exif:
                    if len(exif) + 2 > 0xFFFF:
                        raise InvalidInputError("the photo's metadata is too large")
                    parts.append(b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif)
                exif_done = True
            continue
        if _is_metadata(segment.marker, payload):
            continue
        parts.append(data[segment.start:segment.end])
    if exif and not exif_done:
        # No EXIF segment of its own (its orientation came from XMP, say):
        # one after SOI and JFIF, where readers look, so the original shows
        # turned as its thumbnail is.
        if len(exif) + 2 > 0xFFFF:
            raise InvalidInputError("the photo's metadata is too large")
        at = 2 if len(parts) > 1 and parts[1][:2] == b"\xff\xe0" else 1
        parts.insert(at, b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif)
    parts += (data[start:end] for marker, start, end in layout.pieces
              if marker is None or not _is_metadata(marker, data[start + 4:end]))
    return b"".join(parts)


def _is_metadata(marker: int, payload: bytes) -> bool:
    """An application segment a decoder does not need, or a comment."""
    if APP0 <= marker <= APP15 or marker == COM:
        needed = _NEEDED_APP.get(marker)
        return needed is None or not payload.startswith(needed)
    return False


def header_segments(data: bytes) -> list[Segment]:
    """The segments from SOI up to and including the first SOS."""
    if data[:2] != b"\xff\xd8":
        raise InvalidInputError("not a JPEG file")
    found: list[Segment] = []
    position = 2
    while True:
        if position >= len(data) or data[position] != 0xFF:
            raise InvalidInputError("the JPEG's structure is damaged")
        while position < len(data) and data[position] == 0xFF:  # fill bytes may precede a marker
            position += 1
        if position + 3 > len(data):
            raise InvalidInputError("the JPEG ends before its picture")
        marker = data[position]
        if marker in STANDALONE:
            position += 1
            continue
        length = int.from_bytes(data[position + 1:position + 3], "big")
        if length < 2 or position + 1 + length > len(data):
            raise InvalidInputError("the JPEG's structure is damaged")
        # Fill bytes are dropped: each segment starts at its own 0xFF.
        found.append(Segment(marker, position - 1, position + 1 + length))
        position += 1 + length
        if marker == SOS:
            return found
        if marker == EOI:
            raise InvalidInputError("the JPEG has no picture")


def entropy_end(data: bytes, start: int) -> int:
    """Where the entropy-coded data that begins at `start` ends: at the first
    marker that is neither a stuffed 0xFF nor a restart marker."""
    position = start
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return len(data)
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1
            continue
        return position


def _picture_after_first_scan(data: bytes, segments: list[Segment]) -> Iterator[tuple[int | None, int, int]]:
    """(marker, start, end) of each piece from the first scan's data to the
    EOI: entropy-coded data (marker None), then a marker segment (more
    tables and scans in a progressive file, or anything else a file puts
    between them), and so on. A segment starts at its 0xFF; the last piece
    ends at the EOI's end or where the file ends."""
    position = segments[-1].end
    while True:
        marker_at = entropy_end(data, position)
        if marker_at > position:
            yield None, position, marker_at
        if marker_at + 2 > len(data):
            return
        marker = data[marker_at + 1]
        if marker == EOI:
            yield marker, marker_at, marker_at + 2
            return
        if marker_at + 4 > len(data):
            yield marker, marker_at, len(data)
            return
        position = min(len(data), marker_at + 2 + int.from_bytes(data[marker_at + 2:marker_at + 4], "big"))
        yield marker, marker_at, position


def check_first_scan_holds_the_frame(data: bytes, layout: JpegLayout) -> None:
    """Refuse a Huffman-coded JPEG whose first scan is shorter than the
    smallest possible coding of the blocks its header claims. In a
    progressive file only a first scan of DC coefficients is checked (each
    block still needs its DC code); arithmetic coding is left to the pixel
    limits."""
    segments = layout.segments
    frame = next((s for s in segments if s.marker in FRAMES), None)
    if frame is None or frame.marker not in (*HUFFMAN_SEQUENTIAL, HUFFMAN_PROGRESSIVE):
        return
    width, height, components = _frame(frame.payload(data))
    if not width or not height:
        return  # the height comes later (DNL): nothing to compare
    scan = segments[-1].payload(data)
    count = scan[0] if scan else 0
    if not count or len(scan) < 4 + 2 * count:
        raise InvalidInputError("the JPEG's scan header is damaged")
    selectors = [(scan[1 + 2 * i], scan[2 + 2 * i]) for i in range(count)]
    spectral_start = scan[1 + 2 * count]
    with_ac = frame.marker != HUFFMAN_PROGRESSIVE
    if not with_ac and spectral_start != 0:
        return  # a progressive file that starts with AC bands: no per-block minimum
    if any(component not in components for component, _ in selectors):
        raise InvalidInputError("the JPEG's scan header is damaged")
    tables = _huffman_minimums(data, segments)
    h_max = max(h for h, _ in components.values())
    v_max = max(v for _, v in components.values())
    minimum_bits = 0
    for component, tables_used in selectors:
        dc, ac = tables.get((0, tables_used >> 4)), tables.get((1, tables_used & 15))
        if dc is None or (with_ac and ac is None):
            return  # tables libjpeg would supply itself: no check
        h, v = components[component]
        if count > 1:  # interleaved: whole MCUs, padding blocks included
            blocks = math.ceil(width / (8 * h_max)) * math.ceil(height / (8 * v_max)) * h * v
        else:
            blocks = math.ceil(math.ceil(width * h / h_max) / 8) * math.ceil(math.ceil(height * v / v_max) / 8)
        minimum_bits += blocks * (dc + (ac or 0) if with_ac else dc)
    scan_bytes = layout.first_scan_end() - segments[-1].end
    if scan_bytes * 8 < minimum_bits:
        raise InvalidInputError(f"the image is damaged or incomplete (it holds far fewer pixels than the"
                                f" {width}x{height} it claims)")


def _frame(header: bytes) -> tuple[int, int, dict[int, tuple[int, int]]]:
    """Width, height and each component's sampling factors (h, v)."""
    if len(header) < 6 or len(header) < 6 + 3 * header[5] or not header[5]:
        raise InvalidInputError("the JPEG's frame header is damaged")
    components: dict[int, tuple[int, int]] = {}
    for index in range(header[5]):
        identifier, sampling = header[6 + 3 * index], header[7 + 3 * index]
        if not sampling >> 4 or not sampling & 15:
            raise InvalidInputError("the JPEG's frame header is damaged")
        components[identifier] = (sampling >> 4, sampling & 15)
    return int.from_bytes(header[3:5], "big"), int.from_bytes(header[1:3], "big"), components


def _huffman_minimums(data: bytes, segments: list[Segment]) -> dict[tuple[int, int], int]:
    """(class, table) -> the fewest bits one block can spend on that table:
    for DC the shortest code plus the extra bits its symbol adds, for AC the
    end-of-block code (or the shortest code when there is none)."""
    minimums: dict[tuple[int, int], int] = {}
    for segment in segments:
        if segment.marker != DHT:
            continue
        body = segment.payload(data)
        position = 0
        while position + 17 <= len(body):
            table_class, table_id = body[position] >> 4, body[position] & 15
            counts = body[position + 1:position + 17]
            symbols = body[position + 17:position + 17 + sum(counts)]
            if len(symbols) < sum(counts) or table_class > 1:
                raise InvalidInputError("the JPEG's Huffman tables are damaged")
            lengths = [length for length, n in enumerate(counts, 1) for _ in range(n)]
            coded = list(zip(symbols, lengths, strict=True))
            if coded:
                if table_class == 0:
                    minimums[0, table_id] = min(length + (symbol & 15) for symbol, length in coded)
                else:
                    end_of_block = [length for symbol, length in coded if symbol == 0]
                    minimums[1, table_id] = end_of_block[0] if end_of_block else min(lengths)
            position += 17 + len(symbols)
    return minimums
