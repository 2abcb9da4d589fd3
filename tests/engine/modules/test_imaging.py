from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from tests.engine.modules.images import image_bytes
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.modules.imaging import PREVIEW_SIZE, THUMBNAIL_SIZE, prepare_photo


def _colour_at(jpeg: bytes, where: str) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = image.size
    x, y = {"top": (w // 2, h // 6), "bottom": (w // 2, h * 5 // 6), "left": (w // 6, h // 2)}[where]
    pixel = image.getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_orientation_is_applied_to_thumbnail_and_preview(fmt: str) -> None:
    # Stored landscape, left red; orientation 6 shows it turned clockwise:
    # portrait, red on top.
    photo = prepare_photo(image_bytes(fmt, orientation=6))
    assert (photo.width, photo.height) == (40, 80)
    for jpeg in (photo.thumbnail, photo.preview):
        width, height = Image.open(io.BytesIO(jpeg)).size
        assert height > width
        red, _, blue = _colour_at(jpeg, "top")
        assert red > 150 and blue < 100
        red, _, blue = _colour_at(jpeg, "bottom")
        assert blue > 150 and red < 100


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_every_supported_format_imports(fmt: str) -> None:
    photo = prepare_photo(image_bytes(fmt, size=(3000, 2000)))
    assert photo.mime == f"image/{fmt.lower()}"
    assert max(Image.open(io.BytesIO(photo.thumbnail)).size) == THUMBNAIL_SIZE
    assert max(Image.open(io.BytesIO(photo.preview)).size) == PREVIEW_SIZE
    assert (photo.width, photo.height) == (3000, 2000)


def test_taken_time_and_camera_come_from_exif() -> None:
    photo = prepare_photo(image_bytes("JPEG", taken="2024:07:14 18:30:05", camera=("Canon", "Canon EOS R5")))
    assert photo.taken_at == 1_720_981_805_000
    assert photo.camera == "Canon EOS R5"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_is_stripped_from_the_original_unless_kept(fmt: str) -> None:
    data = image_bytes(fmt, gps=True, orientation=3)
    stripped = prepare_photo(data)
    assert stripped.gps is None
    exif = Image.open(io.BytesIO(stripped.original)).getexif()
    assert ExifTags.IFD.GPSInfo not in exif
    assert exif.get(ExifTags.Base.Orientation) == 3  # the rest of the metadata stays
    kept = prepare_photo(data, keep_gps=True)
    assert kept.gps == {"lat": 38.71, "lon": -9.14}
    assert kept.original == data


def test_gps_stripping_leaves_a_jpegs_picture_bytes_untouched() -> None:
    data = image_bytes("JPEG", gps=True)
    stripped = prepare_photo(data).original
    scan = data.index(b"\xff\xda")
    assert stripped.endswith(data[scan:])


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 50])
def test_a_file_that_is_not_an_image_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(InvalidInputError):
        prepare_photo(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_a_clear_error(fmt: str) -> None:
    data = image_bytes(fmt, size=(600, 400))
    with pytest.raises(InvalidInputError):
        prepare_photo(data[: len(data) // 2])


# VmHWM, the peak resident size of this process's own memory: unlike
# ru_maxrss it does not carry the parent's peak across fork and exec.
PEAK_MEMORY = """
import re, sys
from pathlib import Path
from threads_desktop.engine.modules.imaging import prepare_photo
photo = prepare_photo(Path(sys.argv[1]).read_bytes())
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
print(photo.width, photo.height, peak_kib // 1024)
"""


@pytest.mark.slow
def test_a_100_megapixel_photo_imports_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (10_000, 10_000), (90, 140, 200)).save(path, "JPEG", quality=60)
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(path)], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).parents[3])
    assert result.returncode == 0, result.stderr
    width, height, peak_mib = map(int, result.stdout.split())
    assert (width, height) == (10_000, 10_000)
    assert peak_mib < 250, f"peak {peak_mib} MiB: a full decode alone would take 286 MiB"


def test_progressive_jpegs_have_a_lower_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from threads_desktop.engine.modules import imaging

    out = io.BytesIO()
    Image.new("RGB", (300, 200), "green").save(out, "JPEG", progressive=True)
    monkeypatch.setattr(imaging, "MAX_PROGRESSIVE_JPEG_PIXELS", 50_000)
    with pytest.raises(InvalidInputError, match="megapixels"):
        prepare_photo(out.getvalue())
    baseline = io.BytesIO()
    Image.new("RGB", (300, 200), "green").save(baseline, "JPEG")
    assert prepare_photo(baseline.getvalue()).width == 300


def test_a_file_too_large_to_be_a_photo_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from threads_desktop.engine.modules import photos

    monkeypatch.setattr(photos, "MAX_FILE_BYTES", 1000)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 5000)
    with pytest.raises(InvalidInputError, match="larger than"):
        photos._read(video)
