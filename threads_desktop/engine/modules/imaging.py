"""Turning an image file into what an album stores: a ~256 px thumbnail, a
~1280 px preview (both JPEG, EXIF orientation applied), and the original with
its GPS position removed unless the user keeps it.

Baseline JPEGs decode at a reduced scale (Pillow's draft mode), so even a
100-megapixel photo needs little memory; progressive JPEGs (up to 50 MP) and
other formats (up to 36 MP) decode whole. Pillow releases the GIL while decoding and resizing, so
several files prepare in parallel on threads."""

from __future__ import annotations

import datetime
import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from threads_desktop.engine.core.errors import InvalidInputError

THUMBNAIL_SIZE = 256
PREVIEW_SIZE = 1280
MAX_JPEG_PIXELS = 170_000_000         # under Pillow's own refusal (2 x 89.5 MP)
MAX_PROGRESSIVE_JPEG_PIXELS = 50_000_000  # draft mode cannot shrink progressive decoding
MAX_OTHER_PIXELS = 36_000_000         # decoded whole: about 8K x 4.5K
MAX_FILE_BYTES = 256 << 20
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
            # Our own pixel limits apply below; Pillow's bomb warning is noise here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return _prepare(data, keep_gps)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InvalidInputError(f"not an image this app can read: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInputError(f"the image is damaged or truncated: {exc}") from exc


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
        exif = probe.getexif()
        if image_format == "JPEG":
            probe.draft("RGB", (PREVIEW_SIZE, PREVIEW_SIZE))  # decode at 1/2, 1/4 or 1/8 scale
        probe.load()  # a truncated file fails here, before anything is stored
        oriented = ImageOps.exif_transpose(probe.convert("RGB") if probe.mode not in ("RGB", "L") else probe)
    original, gps = _strip_gps(data, image_format, exif, keep_gps)
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
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)
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
    camera = " ".join(part for part in (make, model) if part)
    return camera[:80] or None


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


def _strip_gps(data: bytes, image_format: str, exif: Image.Exif,
               keep_gps: bool) -> tuple[bytes, dict[str, float] | None]:
    if ExifTags.IFD.GPSInfo not in exif:
        return data, None
    if keep_gps:
        return data, _gps(exif)
    del exif[ExifTags.IFD.GPSInfo]
    if image_format == "JPEG":
        return _replace_jpeg_exif(data, exif.tobytes()), None
    # PNG and WebP keep EXIF in a chunk Pillow rewrites only by saving again:
    # PNG stays lossless; WebP is saved again at high quality.
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        options: dict[str, Any] = {"exif": exif.tobytes()}
        if image_format == "WEBP":
            options["quality"] = 95
        image.save(out, image_format, **options)
        return out.getvalue(), None


def _replace_jpeg_exif(data: bytes, exif_payload: bytes) -> bytes:
    """Swap the JPEG's EXIF segment for `exif_payload`, leaving every other
    byte (and so the picture) as it was."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: no metadata beyond this point
            break
        length = int.from_bytes(data[position + 2:position + 4], "big")
        segment_end = position + 2 + length
        if marker == 0xE1 and data[position + 4:position + 10] == b"Exif\x00\x00":
            if len(exif_payload) + 2 > 0xFFFF:
                raise InvalidInputError("the photo's metadata is too large")
            segment = b"\xff\xe1" + (len(exif_payload) + 2).to_bytes(2, "big") + exif_payload
            return data[:position] + segment + data[segment_end:]
        position = segment_end
    raise InvalidInputError("the JPEG's EXIF segment could not be found")
