"""Turning an image file into what an album stores: a ~256 px thumbnail, a
~1280 px preview (both JPEG, EXIF orientation applied, no metadata at all),
and the original without any metadata block that can carry a location (the
EXIF GPS block stays only if the user keeps it; orientation, date and camera
stay, so an exported original shows upright like its thumbnail).

Baseline JPEGs decode at a reduced scale (Pillow's draft mode), so even a
100-megapixel photo needs little memory; progressive JPEGs (up to 50 MP) and
other formats (up to 36 MP) decode whole. Pillow releases the GIL while decoding and resizing, so
several files prepare in parallel on threads."""

from __future__ import annotations

import datetime
import hashlib
import io
import struct
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.text import name_from_peer
from threads_desktop.engine.modules import image_chunks, jpeg_segments

THUMBNAIL_SIZE = 256
PREVIEW_SIZE = 1280
MAX_JPEG_PIXELS = 170_000_000         # under Pillow's own refusal (2 x 89.5 MP)
MAX_PROGRESSIVE_JPEG_PIXELS = 50_000_000  # draft mode cannot shrink progressive decoding
MAX_OTHER_PIXELS = 36_000_000         # decoded whole: about 8K x 4.5K
MAX_FILE_BYTES = 256 << 20
MAX_CAMERA = 80  # characters of a camera's make and model
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    content_hash: str        # of the original as stored: the photo's ID in an album
    legacy_id: str | None    # the ID version 0.1 gave this file (None: it refused it)
    original: bytes
    mime: str
    thumbnail: bytes         # JPEG
    preview: bytes           # JPEG
    width: int               # after orientation
    height: int
    taken_at: int | None     # milliseconds since the epoch, from EXIF
    camera: str | None
    gps: dict[str, float] | None  # only when the user keeps it


def prepare_photo(data: bytes, *, keep_gps: bool = False) -> PreparedPhoto:
    """Check and convert one image file. Anything Pillow cannot fully decode
    (not an image, truncated, too large) raises InvalidInputError."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInputError(f"the file is larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        with warnings.catch_warnings():
            # Our own pixel limits apply below; Pillow's bomb warning is noise
            # here, and so are its notes on damaged EXIF (on stderr, to a person).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            return _prepare(data, keep_gps)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        # Pillow's own text names Python objects and byte counts: not for a person.
        raise InvalidInputError("not an image this app can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInputError("the image is damaged or incomplete") from exc
    except (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, struct.error) as exc:
        # Pillow's metadata parsers fail in these ways on crafted files: one
        # bad file must not stop an import.
        raise InvalidInputError("the image's metadata is damaged") from exc


def _prepare(data: bytes, keep_gps: bool) -> PreparedPhoto:
    with Image.open(io.BytesIO(data)) as probe:
        if probe.format not in FORMATS:
            raise InvalidInputError(f"{probe.format or 'this'} images are not supported")
        image_format = probe.format
        width, height = probe.size
        if image_format != "JPEG":
            limit = MAX_OTHER_PIXELS
        elif probe.info.get("progressive") or probe.info.get("progression"):
            limit = MAX_PROGRESSIVE_JPEG_PIXELS
        else:
            limit = MAX_JPEG_PIXELS
        if width * height > limit:
            raise InvalidInputError(f"the image has more than {limit // 1_000_000} megapixels")
        layout = jpeg_segments.JpegLayout.of(data) if image_format == "JPEG" else None
        if layout is not None:  # libjpeg would fill a short scan with grey, silently
            jpeg_segments.check_first_scan_holds_the_frame(data, layout)
        exif = probe.getexif()
        if image_format == "JPEG":
            probe.draft("RGB", (PREVIEW_SIZE, PREVIEW_SIZE))  # decode at 1/2, 1/4 or 1/8 scale
        probe.load()  # a truncated file fails here, before anything is stored
        oriented = _upright(probe.convert("RGB") if probe.mode not in ("RGB", "L") else probe,
                            exif.get(ExifTags.Base.Orientation))
    rotated = exif.get(ExifTags.Base.Orientation) in (5, 6, 7, 8)
    legacy_id = _legacy_id(data, image_format, keep_gps) if ExifTags.IFD.GPSInfo in exif else _sha256(data)
    original, gps = _clean_original(data, image_format, exif, keep_gps, layout)
    return PreparedPhoto(
        content_hash=_sha256(original),
        legacy_id=legacy_id,
        original=original,
        mime=FORMATS[image_format],
        thumbnail=_jpeg(oriented, THUMBNAIL_SIZE, quality=80),
        preview=_jpeg(oriented, PREVIEW_SIZE, quality=85),
        width=height if rotated else width,
        height=width if rotated else height,
        taken_at=_taken_at(exif),
        camera=_camera(exif),
        gps=gps,
    )


# EXIF orientation -> the turn that shows the picture upright (the UI's
# pictures from peers use it too).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def _upright(image: Image.Image, orientation: object) -> Image.Image:
    """The pixels turned as the EXIF orientation says. Not ImageOps.exif_transpose:
    it writes the EXIF back, and fails where Pillow cannot (docs/LIBP2P-NOTES.md)."""
    turn = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(turn) if turn is not None else image.copy()


def _jpeg(image: Image.Image, size: int, quality: int) -> bytes:
    """Pixels only: Pillow would carry the source's comment (and other
    `info`) into what it saves."""
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    pixels = copy.convert("RGB")
    pixels.info.clear()
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _taken_at(exif: Image.Exif) -> int | None:
    details = exif.get_ifd(ExifTags.IFD.Exif)
    text = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(text, str):
        return None
    try:
        taken = datetime.datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = details.get(ExifTags.Base.OffsetTimeOriginal)
    zone: datetime.tzinfo = datetime.UTC
    if isinstance(offset, str):
        try:
            zone = datetime.datetime.strptime(offset.strip("\x00 "), "%z").tzinfo or datetime.UTC
        except ValueError:
            pass
    return int(taken.replace(tzinfo=zone).timestamp() * 1000)


def _camera(exif: Image.Exif) -> str | None:
    make = str(exif.get(ExifTags.Base.Make, "")).strip("\x00 ")
    model = str(exif.get(ExifTags.Base.Model, "")).strip("\x00 ")
    if model.lower().startswith(make.lower()):
        make = ""
    # Text from the file: controls and terminal escapes go, as in any name.
    return name_from_peer(" ".join(part for part in (make, model) if part), MAX_CAMERA)


def _gps(exif: Image.Exif) -> dict[str, float] | None:
    info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(info[ExifTags.GPS.GPSLatitude]) * (-1 if info.get(ExifTags.GPS.GPSLatitudeRef) == "S" else 1)
        lon = _degrees(info[ExifTags.GPS.GPSLongitude]) * (-1 if info.get(ExifTags.GPS.GPSLongitudeRef) == "W" else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


def _degrees(value: Any) -> float:
    degrees, minutes, seconds = (float(v) for v in value)
    return degrees + minutes / 60 + seconds / 3600


# All an original's EXIF keeps (an allowlist: any other tag may hold a
# location, e.g. XMP (700) or IPTC (33723) inside the EXIF, or free text).
_MINIMAL_IFD0 = (ExifTags.Base.Orientation, ExifTags.Base.DateTime, ExifTags.Base.Make, ExifTags.Base.Model)
_MINIMAL_EXIF_IFD = (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal)
_MINIMAL_GPS = (ExifTags.GPS.GPSLatitudeRef, ExifTags.GPS.GPSLatitude, ExifTags.GPS.GPSLongitudeRef,
                ExifTags.GPS.GPSLongitude, ExifTags.GPS.GPSAltitudeRef, ExifTags.GPS.GPSAltitude)
# What Pillow raises when it cannot write back a tag it read (a ResolutionUnit
# stored as text, say): see docs/LIBP2P-NOTES.md, "Pillow's Exif.tobytes".
_UNWRITABLE = (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError, struct.error)


def _clean_original(data: bytes, image_format: str, exif: Image.Exif, keep_gps: bool,
                    layout: jpeg_segments.JpegLayout | None = None) -> tuple[bytes, dict[str, float] | None]:
    """The original as members receive it: no metadata block that can carry
    a location (XMP, IPTC, comments, text chunks, maker notes), the EXIF GPS
    block only when the user keeps it; orientation, date and camera stay.
    The picture's own bytes are not re-encoded."""
    gps = _gps(exif) if keep_gps else None
    payload = _exif_bytes(exif, keep_gps)
    if image_format == "JPEG":
        return jpeg_segments.without_metadata(data, payload, layout), gps
    # PNG and WebP hold EXIF without its "Exif" prefix; b"" drops an empty one.
    tiff = payload[6:]
    if image_format == "PNG":
        return image_chunks.png_without_metadata(data, tiff), gps
    if image_format == "WEBP":
        return image_chunks.webp_without_metadata(data, tiff), gps
    return image_chunks.gif_without_metadata(data), gps


def _exif_bytes(exif: Image.Exif, keep_gps: bool) -> bytes:
    """The original's EXIF block as stored ("Exif\\0\\0" and TIFF), b"" for
    none: a fresh block with only what the app uses (orientation, dates,
    camera; GPS when kept), never the file's own written back. If even that
    cannot be written, the block goes: a photo is never refused over
    metadata that was about to be dropped."""
    fresh = Image.Exif()
    kept = False
    for tag in _MINIMAL_IFD0:
        value = exif.get(tag)
        if isinstance(value, int if tag == ExifTags.Base.Orientation else str):
            fresh[tag] = value
            kept = True
    for ifd, tags in ((ExifTags.IFD.Exif, _MINIMAL_EXIF_IFD), (ExifTags.IFD.GPSInfo, _MINIMAL_GPS if keep_gps else ())):
        source = exif.get_ifd(ifd) if ifd in exif else {}
        if any(tag in source for tag in tags):
            target = fresh.get_ifd(ifd)
            target.update((tag, source[tag]) for tag in tags if tag in source)
            kept = True
    if not kept:
        return b""
    try:
        return fresh.tobytes()
    except _UNWRITABLE:
        return b""


def _legacy_id(data: bytes, image_format: str, keep_gps: bool) -> str | None:
    """The ID version 0.1 gave a file whose EXIF has a GPS block: the hash of
    the file as it stored it, which was the file itself with only that block
    removed (unless kept), the EXIF written back by Pillow. It lets an import
    find a photo added before the upgrade, or by a member who has not
    upgraded. Only looked up, never given to a new photo: a hash over the
    metadata we now strip would let members confirm a guess of it."""
    if keep_gps or image_format == "GIF":
        return _sha256(data)
    if image_format != "JPEG":
        # 0.1 re-encoded a PNG or WebP to drop its GPS: finding it again would
        # cost a full decode and encode of every such file (0.44 -> 3.5 s for
        # 12 MP) for a rare case whose worst outcome is one duplicate.
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
            del exif[ExifTags.IFD.GPSInfo]
            payload = exif.tobytes()
        return _sha256(_legacy_jpeg_with_exif(data, payload))
    except (*_UNWRITABLE, OSError, InvalidInputError):
        return None  # version 0.1 refused this file: nothing to find


def _legacy_jpeg_with_exif(data: bytes, payload: bytes) -> bytes:
    """Version 0.1's EXIF swap: the first EXIF segment before the scan
    replaced, every other byte as it was."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == jpeg_segments.SOS:
            break
        end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
        if marker == jpeg_segments.APP1 and data[position + 4:position + 10] == b"Exif\x00\x00":
            if len(payload) + 2 > 0xFFFF:
                break
            return data[:position] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[end:]
        position = end
    raise InvalidInputError("no EXIF segment")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
