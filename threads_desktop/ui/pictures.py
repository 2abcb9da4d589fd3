"""Pictures from peers, decoded safely off the GUI thread, upright.

Every picture the UI shows goes through `_open` here, which is where the EXIF
orientation is applied: a phone's portrait photo is stored as a landscape
JPEG with a tag saying "turn me", and the grid, the viewer and the chat must
all show it turned the same way.

A thumbnail in an event is bytes a peer chose: it may claim any size or
format. The engine makes JPEG thumbnails of at most 256 px, so anything else
is refused before decoding rather than decoded at a size that freezes the
app or eats its memory. Originals are held to the engine's own import limits
and decoded at most `MAX_SHOWN_EDGE` wide. Pillow, not QImage, decodes:
Pillow lets go of the interpreter lock while it works; PySide's QImage calls
hold it and stall the GUI thread."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

from PIL import ExifTags, Image, ImageDraw
from PySide6.QtGui import QImage

# The engine's import limits (what a member can add at all) and orientation table.
from threads_desktop.engine.modules.imaging import (
    MAX_JPEG_PIXELS,
    MAX_OTHER_PIXELS,
    MAX_PROGRESSIVE_JPEG_PIXELS,
    UPRIGHT,
)

log = logging.getLogger(__name__)

MAX_THUMBNAIL_EDGE = 2048  # generous: the engine's own are 256
MAX_SHOWN_EDGE = 8192  # an original larger than this is shown scaled down (64 Mpx, 256 MiB as RGBA)
PICTURE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")  # what an album may hold as an original
_THUMBNAIL_FORMATS = ("JPEG",)


def _open(data: bytes, edge: int, formats: Sequence[str], max_pixels: dict[str, int], *,
          max_edge: int | None = None, fit: bool = True) -> Image.Image | None:
    """An upright RGB picture decoded near `edge` pixels (scaled down to fit
    `edge` when `fit`), or None for anything damaged, not in `formats`, over
    its format's `max_pixels` or with a side over `max_edge`."""
    try:
        # Pillow warns (DecompressionBombWarning) above 89 Mpx and refuses above
        # twice that; our own limits are below the refusal. No catch_warnings
        # here: it changes process-wide state and this runs on several threads.
        with Image.open(io.BytesIO(data), formats=list(formats)) as picture:
            width, height = picture.size
            limit = max_pixels.get(picture.format or "", 0)
            if picture.format == "JPEG" and (picture.info.get("progressive") or picture.info.get("progression")):
                limit = min(limit, MAX_PROGRESSIVE_JPEG_PIXELS)  # draft() cannot shrink progressive decoding
            if min(width, height) < 1 or width * height > limit:
                return None
            if max_edge is not None and max(width, height) > max_edge:
                return None
            if picture.format == "JPEG":
                picture.draft("RGB", (edge, edge))  # decode at 1/2, 1/4, 1/8 when that is enough
            picture.load()
            # After load(): draft() has already shrunk what is turned.
            # The engine's table, not ImageOps.exif_transpose: that rewrites the
            # EXIF, and a peer's EXIF may hold any tag of any type.
            turn = UPRIGHT.get(_orientation(picture))
            rgb = picture.convert("RGB")
        if turn is not None:
            rgb = rgb.transpose(turn)
        if fit and max(rgb.size) > edge:
            rgb.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        return rgb
    except Exception as exc:  # noqa: BLE001 - a peer's bytes: whatever Pillow trips on, it is no picture
        # The type only: the bytes and the text may carry what a peer chose.
        log.debug("a picture could not be decoded (%s)", type(exc).__name__)
        return None


def _orientation(picture: Image.Image) -> int:
    """The EXIF orientation tag, 1 (as stored) when missing or unreadable."""
    try:
        value = picture.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block only loses the turn
        return 1
    return value if isinstance(value, int) else 1


def open_thumbnail(data: bytes, edge: int) -> Image.Image | None:
    """An upright RGB picture decoded near `edge` pixels (not scaled below
    it), or None for anything that is not a plausible JPEG thumbnail."""
    return _open(data, edge, _THUMBNAIL_FORMATS, {"JPEG": MAX_THUMBNAIL_EDGE ** 2},
                 max_edge=MAX_THUMBNAIL_EDGE, fit=False)


def to_qimage(picture: Image.Image) -> QImage:
    """Premultiplied RGBA, as Qt paints fastest; a copy that owns its pixels."""
    pixels = picture.convert("RGBa").tobytes()
    return QImage(pixels, picture.width, picture.height, picture.width * 4,
                  QImage.Format.Format_RGBA8888_Premultiplied).copy()


def fitted_thumbnail(data: bytes, edge: int) -> QImage:
    """The picture scaled to fit an `edge` square (chat attachments); a null
    image when it cannot be shown."""
    picture = open_thumbnail(data, edge)
    if picture is None:
        return QImage()
    picture.thumbnail((edge, edge), Image.Resampling.BILINEAR)
    return to_qimage(picture)


def shown_picture(data: bytes, edge: int = MAX_SHOWN_EDGE) -> QImage:
    """A preview or an original for the viewer, upright and at most `edge`
    pixels wide or high; a null image when it cannot be shown."""
    picture = _open(data, edge, PICTURE_FORMATS,
                    {"JPEG": MAX_JPEG_PIXELS, "PNG": MAX_OTHER_PIXELS, "WEBP": MAX_OTHER_PIXELS,
                     "GIF": MAX_OTHER_PIXELS})
    return QImage() if picture is None else to_qimage(picture)


class SquareThumbnails:
    """JPEG bytes to the `edge` square a grid cell shows, cropped from the
    middle and rounded: painting it is then a copy, never a scale, and it
    weighs edge² x 4 bytes (100 KiB at 160 px) whatever the thumbnail's size."""

    def __init__(self, edge: int, corner: float) -> None:
        self.edge = edge
        self._mask = Image.new("L", (edge, edge), 0)
        radius = max(1, round(edge * corner))
        ImageDraw.Draw(self._mask).rounded_rectangle((0, 0, edge - 1, edge - 1), radius, fill=255)

    def __call__(self, thumbnails: list[bytes]) -> list[QImage]:
        """One image per thumbnail, each decoded on its own: a bad one is a
        null image for its cell and leaves the others of the batch alone."""
        return [self.decode(data) for data in thumbnails]

    def decode(self, data: bytes) -> QImage:
        """The cell's picture, or a null image (the cell keeps its placeholder)."""
        rgb = open_thumbnail(data, self.edge)
        if rgb is None:
            return QImage()
        try:
            side = min(rgb.size)
            left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
            square = rgb.resize((self.edge, self.edge), Image.Resampling.BILINEAR,
                                box=(left, top, left + side, top + side))
            square.putalpha(self._mask)
            return to_qimage(square)
        except Exception as exc:  # noqa: BLE001 - one cell without a picture, never a grey batch
            log.debug("a thumbnail could not be squared (%s)", type(exc).__name__)
            return QImage()
