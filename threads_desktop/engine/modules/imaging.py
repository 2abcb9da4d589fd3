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

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.modules import image_chunks, jpeg_segments
from threads_desktop.engine.modules.profiles import name_from_peer

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
    except (ArithmeticError, IndexError, KeyError, TypeError, struct.error) as exc:
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
        if image_format == "JPEG":  # libjpeg would fill a short scan with grey, silently
            jpeg_segments.check_first_scan_holds_the_frame(data, jpeg_segments.header_segments(data))
        exif = probe.getexif()
        if image_format == "JPEG":
            probe.draft("RGB", (PREVIEW_SIZE, PREVIEW_SIZE))  # decode at 1/2, 1/4 or 1/8 scale
        probe.load()  # a truncated file fails here, before anything is stored
        oriented = ImageOps.exif_transpose(probe.convert("RGB") if probe.mode not in ("RGB", "L") else probe)
    original, gps = _clean_original(data, image_format, exif, keep_gps)
    rotated = exif.get(ExifTags.Base.Orientation) in (5, 6, 7, 8)
    return PreparedPhoto(
        content_hash=hashlib.sha256(original).hexdigest(),
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


# EXIF tags that can hold free text or a vendor's blocks (a location among
# them): maker notes, the user comment, the description and Windows' XP fields.
_EXIF_IFD_FREE_TEXT = (0x927C, 0x9286)  # MakerNote, UserComment (in the Exif IFD)
# ImageDescription, then Windows' XPTitle, XPComment, XPAuthor, XPKeywords, XPSubject (in IFD0)
_FREE_TEXT = (0x010E, 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F)


def _clean_original(data: bytes, image_format: str, exif: Image.Exif,
                    keep_gps: bool) -> tuple[bytes, dict[str, float] | None]:
    """The original as members receive it: no metadata block that can carry
    a location (XMP, IPTC, comments, text chunks, maker notes), the EXIF GPS
    block only when the user keeps it; orientation, date and camera stay.
    The picture's own bytes are not re-encoded."""
    gps = _gps(exif) if keep_gps else None
    changed = False
    if ExifTags.IFD.GPSInfo in exif and not keep_gps:
        del exif[ExifTags.IFD.GPSInfo]
        changed = True
    details = exif.get_ifd(ExifTags.IFD.Exif)
    for tag in _EXIF_IFD_FREE_TEXT:
        if tag in details:
            del details[tag]
            changed = True
    for tag in _FREE_TEXT:
        if tag in exif:
            del exif[tag]
            changed = True
    payload = exif.tobytes() if changed else None  # None: the EXIF block stays as it is
    if image_format == "JPEG":
        return jpeg_segments.without_metadata(data, payload), gps
    # PNG and WebP hold EXIF without its "Exif" prefix; b"" drops an empty one.
    tiff = None if payload is None else payload[6:] if len(exif) else b""
    if image_format == "PNG":
        return image_chunks.png_without_metadata(data, tiff), gps
    if image_format == "WEBP":
        return image_chunks.webp_without_metadata(data, tiff), gps
    return image_chunks.gif_without_metadata(data), gps
