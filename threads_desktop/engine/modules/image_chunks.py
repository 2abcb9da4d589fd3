"""PNG, WebP and GIF files rewritten chunk by chunk without their metadata:
the pixels' bytes are copied as they are (no re-encoding), text, comment and
XMP chunks (which can carry a location) are dropped, and the EXIF chunk is
replaced."""

from __future__ import annotations

import zlib

from threads_desktop.engine.core.errors import InvalidInputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary PNG chunks that only say how to show the pixels (colour,
# transparency, density, animation); every other ancillary chunk (tEXt,
# zTXt, iTXt with XMP, tIME, private ones) is dropped.
_PNG_DISPLAY = frozenset({b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"cICP",
                          b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT"})
# WebP chunks needed to show the picture; XMP and unknown ones are dropped.
_WEBP_PICTURE = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_WEBP_EXIF_FLAG, _WEBP_XMP_FLAG = 0x08, 0x04


def png_without_metadata(data: bytes, exif: bytes | None) -> bytes:
    """`exif` (raw TIFF bytes) replaces the eXIf chunk (b"" drops it); None
    keeps the chunk as it is."""
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidInputError("not a PNG file")
    parts = [PNG_SIGNATURE]
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        end = position + 12 + length
        if end > len(data):
            raise InvalidInputError("the PNG's structure is damaged")
        if kind == b"eXIf":
            if exif is None:
                parts.append(data[position:end])
            elif exif:
                parts.append(_png_chunk(kind, exif))
        elif kind[:1].isupper() or kind in _PNG_DISPLAY:
            parts.append(data[position:end])
        position = end
        if kind == b"IEND":  # whatever follows is not part of the picture
            break
    return b"".join(parts)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def webp_without_metadata(data: bytes, exif: bytes | None) -> bytes:
    """`exif` (raw TIFF bytes) replaces the EXIF chunk (b"" drops it); None
    keeps the chunk as it is."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise InvalidInputError("not a WebP file")
    chunks: list[tuple[bytes, bytes]] = []
    position = 12
    end_of_riff = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while position + 8 <= end_of_riff:
        kind = data[position:position + 4]
        size = int.from_bytes(data[position + 4:position + 8], "little")
        body = data[position + 8:position + 8 + size]
        if len(body) < size:
            raise InvalidInputError("the WebP's structure is damaged")
        if kind == b"EXIF":
            if exif is None or exif:
                chunks.append((kind, body if exif is None else exif))
        elif kind in _WEBP_PICTURE:
            chunks.append((kind, body))
        position += 8 + size + (size & 1)
    if chunks and chunks[0][0] == b"VP8X" and chunks[0][1]:  # its flags say which chunks follow
        flags = chunks[0][1][0] & ~(_WEBP_EXIF_FLAG | _WEBP_XMP_FLAG)
        if any(kind == b"EXIF" for kind, _ in chunks):
            flags |= _WEBP_EXIF_FLAG
        chunks[0] = (b"VP8X", bytes([flags]) + chunks[0][1][1:])
    return _riff(chunks)


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP" + b"".join(kind + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1)
                              for kind, data in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


# GIF application extensions that say how to play or colour the picture;
# others (XMP, vendors') and comment extensions are dropped.
_GIF_PLAYBACK = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")


def gif_without_metadata(data: bytes) -> bytes:
    """The GIF without comment extensions, XMP or other application blocks,
    and nothing after its trailer; frames and colour tables as they are."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise InvalidInputError("not a GIF file")
    position = 13 + _colour_table_size(data[10])
    parts = [data[:position]]
    while position < len(data):
        start, introducer = position, data[position]
        if introducer == 0x3B:  # trailer
            parts.append(b"\x3b")
            break
        if introducer == 0x2C:  # an image: descriptor, local colours, LZW code size, data
            if position + 10 > len(data):
                raise InvalidInputError("the GIF's structure is damaged")
            position = _after_sub_blocks(data, position + 10 + _colour_table_size(data[position + 9]) + 1)
            parts.append(data[start:position])
        elif introducer == 0x21 and position + 1 < len(data):
            label = data[position + 1]
            position = _after_sub_blocks(data, position + 2)
            first_block = data[start + 3:start + 3 + data[start + 2]] if start + 2 < len(data) else b""
            if label == 0xF9 or label == 0x01 or (label == 0xFF and first_block in _GIF_PLAYBACK):
                parts.append(data[start:position])
        else:
            raise InvalidInputError("the GIF's structure is damaged")
    return b"".join(parts)


def _colour_table_size(packed: int) -> int:
    return 3 * (2 << (packed & 7)) if packed & 0x80 else 0


def _after_sub_blocks(data: bytes, position: int) -> int:
    while True:
        if position >= len(data):
            raise InvalidInputError("the GIF's structure is damaged")
        size = data[position]
        position += 1 + size
        if size == 0:
            return position
