from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, PngImagePlugin

from tests.engine.modules.images import (
    COMMENT,
    DESCRIPTION,
    IPTC_CITY,
    XMP_GPS,
    image_bytes,
    jpeg_whose_exif_pillow_cannot_write_back,
    jpeg_with_every_metadata_block,
    progressive_jpeg_with_metadata_between_scans,
    two_colour_image,
)
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.modules.imaging import PREVIEW_SIZE, THUMBNAIL_SIZE, prepare_photo
from threads_desktop.engine.modules.jpeg_segments import JpegLayout, check_first_scan_holds_the_frame, header_segments


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


def test_a_camera_name_with_terminal_escapes_is_stored_clean() -> None:
    photo = prepare_photo(image_bytes("JPEG", camera=("\x1b]0;owned\x07Canon", "EOS\x1b[2J\nR5")))
    assert photo.camera == "]0;owned Canon EOS [2J R5"


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


# --- what the stored files carry ---------------------------------------------------------

LOCATION_TRACES = (b"GPSLatitude", COMMENT, IPTC_CITY, b"GPS-IN-MAKERNOTE", b"Photoshop 3.0", b"xmpmeta", DESCRIPTION)


def _jpeg_markers(data: bytes) -> list[int]:
    return [segment.marker for segment in header_segments(data)]


@pytest.mark.parametrize("keep_gps", [False, True])
def test_no_metadata_block_carries_a_location_into_the_original(keep_gps: bool) -> None:
    data = jpeg_with_every_metadata_block(orientation=6)
    assert all(trace in data for trace in LOCATION_TRACES)
    photo = prepare_photo(data, keep_gps=keep_gps)
    for trace in LOCATION_TRACES:
        assert trace not in photo.original, trace
    with Image.open(io.BytesIO(photo.original)) as original:
        exif = original.getexif()
        assert exif.get(ExifTags.Base.Orientation) == 6  # the upright view survives
        assert ExifTags.Base.MakerNote not in exif.get_ifd(ExifTags.IFD.Exif)
        assert (ExifTags.IFD.GPSInfo in exif) is keep_gps  # kept only where the user asked: EXIF GPS
        assert "comment" not in original.info and "xmp" not in original.info
        original.load()
    assert photo.gps == ({"lat": 38.71, "lon": -9.14} if keep_gps else None)


def test_previews_and_thumbnails_carry_no_metadata_at_all() -> None:
    photo = prepare_photo(jpeg_with_every_metadata_block(), keep_gps=True)
    for derived in (photo.thumbnail, photo.preview):
        assert set(_jpeg_markers(derived)) <= {0xE0, 0xDB, 0xC4, 0xC0, 0xDA}  # JFIF, tables, frame, scan
        with Image.open(io.BytesIO(derived)) as image:
            assert not set(image.info) & {"comment", "exif", "xmp", "icc_profile"}
            assert not image.getexif()


def test_png_text_chunks_and_exif_gps_stay_out_of_the_original() -> None:
    image = two_colour_image()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (38.0, 42.0, 36.0)
    text = PngImagePlugin.PngInfo()
    text.add_itxt("XML:com.adobe.xmp", XMP_GPS.decode())
    text.add_text("Comment", COMMENT.decode())
    text.add_text("Location", IPTC_CITY.decode(), zip=True)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=text, exif=exif.tobytes())
    photo = prepare_photo(out.getvalue())
    with Image.open(io.BytesIO(photo.original)) as original:
        assert original.text == {}
        assert original.getexif().get(ExifTags.Base.Orientation) == 8
        assert ExifTags.IFD.GPSInfo not in original.getexif()
        assert original.convert("RGB").tobytes() == image.tobytes()  # not re-encoded lossily


def test_webp_xmp_stays_out_of_the_original() -> None:
    image = two_colour_image()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 3
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True, xmp=XMP_GPS, exif=exif.tobytes())
    photo = prepare_photo(out.getvalue())
    assert b"GPSLatitude" not in photo.original
    with Image.open(io.BytesIO(photo.original)) as original:
        assert "xmp" not in original.info and original.getexif().get(ExifTags.Base.Orientation) == 3
        assert original.convert("RGB").tobytes() == image.tobytes()


# --- a header that lies ------------------------------------------------------------------


def _claiming(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its SOF0 header patched to claim another size."""
    sof = data.index(b"\xff\xc0")
    return data[:sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[sof + 9:]


def test_a_jpeg_header_claiming_13000x13000_over_1600x1200_pixels_is_refused() -> None:
    honest = image_bytes("JPEG", size=(1600, 1200))
    assert (prepare_photo(honest).width, prepare_photo(honest).height) == (1600, 1200)
    with pytest.raises(InvalidInputError, match=r"fewer pixels than the 13000x13000 it claims"):
        prepare_photo(_claiming(honest, 13000, 13000))


def test_a_progressive_jpeg_header_that_lies_is_refused() -> None:
    out = io.BytesIO()
    two_colour_image(500, 500).save(out, "JPEG", progressive=True)
    assert prepare_photo(out.getvalue()).width == 500
    sof = out.getvalue().index(b"\xff\xc2")
    lying = out.getvalue()[:sof + 5] + (7000).to_bytes(2, "big") * 2 + out.getvalue()[sof + 9:]
    with pytest.raises(InvalidInputError, match="fewer pixels than the 7000x7000 it claims"):
        prepare_photo(lying)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 400), height=st.integers(1, 400), quality=st.integers(1, 100),
       subsampling=st.sampled_from([0, 1, 2]), optimize=st.booleans(), progressive=st.booleans(),
       grey=st.booleans())
def test_an_honest_jpeg_always_passes_the_scan_check(width: int, height: int, quality: int, subsampling: int,
                                                      optimize: bool, progressive: bool, grey: bool) -> None:
    out = io.BytesIO()
    image = Image.new("L" if grey else "RGB", (width, height), 90)  # flat: the smallest scan there is
    image.save(out, "JPEG", quality=quality, subsampling=subsampling, optimize=optimize, progressive=progressive)
    data = out.getvalue()
    check_first_scan_holds_the_frame(data, JpegLayout.of(data))
    assert prepare_photo(data).width == width


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_damage_to_a_jpeg_is_refused_cleanly_or_imported(data: st.DataObject) -> None:
    try:
        photo = prepare_photo(_damaged(jpeg_with_every_metadata_block(), data))
    except InvalidInputError:
        return
    assert photo.thumbnail and photo.original


def _gif_application_block(identifier: bytes, payload: bytes) -> bytes:
    blocks = b"".join(bytes([len(payload[i:i + 255])]) + payload[i:i + 255] for i in range(0, len(payload), 255))
    return b"\x21\xff\x0b" + identifier + blocks + b"\x00"


def test_gif_comments_and_xmp_stay_out_of_the_original() -> None:
    frames = [two_colour_image().convert("P"), Image.new("RGB", (80, 40), "green").convert("P")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=0, comment=COMMENT)
    data = out.getvalue()
    data = data[:-1] + _gif_application_block(b"XMP DataXMP", XMP_GPS) + data[-1:]  # before the trailer
    assert COMMENT in data and b"GPSLatitude" in data
    photo = prepare_photo(data)
    assert COMMENT not in photo.original and b"GPSLatitude" not in photo.original
    with Image.open(io.BytesIO(photo.original)) as original, Image.open(io.BytesIO(data)) as source:
        assert "comment" not in original.info and original.info.get("loop") == 0
        assert original.n_frames == source.n_frames == 2
        for frame in range(2):
            original.seek(frame)
            source.seek(frame)
            assert original.convert("RGB").tobytes() == source.convert("RGB").tobytes()


def _damaged(data: bytes, draw: st.DataObject) -> bytes:
    damaged = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 8))):
        damaged[draw.draw(st.integers(0, len(damaged) - 1))] = draw.draw(st.integers(0, 255))
    return bytes(damaged[:draw.draw(st.integers(0, len(damaged)))])


@settings(max_examples=150, deadline=None)
@given(fmt=st.sampled_from(["PNG", "WEBP", "GIF"]), data=st.data())
def test_any_damage_to_a_png_webp_or_gif_is_refused_cleanly_or_imported(fmt: str, data: st.DataObject) -> None:
    try:
        photo = prepare_photo(_damaged(image_bytes(fmt, gps=True, orientation=6), data))
    except InvalidInputError:
        return
    assert photo.thumbnail and photo.original


def _png_chunks(data: bytes) -> list[bytes]:
    chunks, position = [], 8
    while position < len(data):
        end = position + 12 + int.from_bytes(data[position:position + 4], "big")
        chunks.append(data[position:end])
        position = end
    return chunks


def test_gps_in_a_png_exif_chunk_after_the_pixels_is_removed_too() -> None:
    chunks = _png_chunks(image_bytes("PNG", gps=True, orientation=6))
    exif = next(c for c in chunks if c[4:8] == b"eXIf")
    moved = [c for c in chunks if c is not exif]
    data = b"\x89PNG\r\n\x1a\n" + b"".join(moved[:-1]) + exif + moved[-1]  # eXIf just before IEND
    assert [c[4:8] for c in _png_chunks(data)][-2:] == [b"eXIf", b"IEND"]
    photo = prepare_photo(data)
    with Image.open(io.BytesIO(photo.original)) as original:
        original.load()
        assert ExifTags.IFD.GPSInfo not in original.getexif()
        assert original.getexif().get(ExifTags.Base.Orientation) == 6


def test_a_photo_whose_exif_pillow_cannot_write_back_imports_with_orientation_and_date() -> None:
    data = jpeg_whose_exif_pillow_cannot_write_back()
    photo = prepare_photo(data)
    assert b"ABCD" not in photo.original  # the maker note still goes
    assert (photo.width, photo.height) == (40, 80)
    assert photo.taken_at == 1622550600000  # 2021-06-01 12:30:00 UTC
    with Image.open(io.BytesIO(photo.original)) as original:
        exif = original.getexif()
        assert exif.get(ExifTags.Base.Orientation) == 6
        assert exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) == "2021:06:01 12:30:00"
        original.load()


def test_metadata_between_a_progressive_jpegs_scans_stays_out_of_the_original() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="38,42.6N"/></x:xmpmeta>'
    clean, data = progressive_jpeg_with_metadata_between_scans(COMMENT, xmp)
    original = prepare_photo(data).original
    assert COMMENT not in original and b"GPSLatitude" not in original and b"xmpmeta" not in original
    assert original.endswith(clean[clean.index(b"\xff\xda"):])  # every scan and table, byte for byte
    with Image.open(io.BytesIO(original)) as stored, Image.open(io.BytesIO(clean)) as expected:
        assert stored.tobytes() == expected.tobytes()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFF).filter(lambda tag: tag not in (0x0112, 0x010E)), st.integers(0, 19),
       st.sampled_from([0, 1, 2, 3, 4, 5, 8, 100]), st.binary(min_size=4, max_size=4), st.binary(max_size=40))
def test_a_photo_is_never_refused_over_an_exif_tag_it_was_about_to_rewrite(tag: int, kind: int, count: int,
                                                                           value: bytes, tail: bytes) -> None:
    """Any one odd IFD0 entry next to an orientation and a description (which
    the import drops, so it rewrites the EXIF): the photo imports."""
    entries = sorted([(0x0112, 3, 1, struct.pack("<HH", 6, 0)), (0x010E, 2, 4, b"abc\x00"), (tag, kind, count, value)])
    ifd0 = struct.pack("<H", 3) + b"".join(struct.pack("<HHI", *entry[:3]) + entry[3] for entry in entries)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + struct.pack("<I", 0) + tail
    out = io.BytesIO()
    Image.new("RGB", (24, 16)).save(out, "JPEG", exif=b"Exif\x00\x00" + tiff)
    photo = prepare_photo(out.getvalue())
    with Image.open(io.BytesIO(photo.original)) as original:
        assert ExifTags.Base.ImageDescription not in original.getexif()


@pytest.mark.filterwarnings("ignore:Truncated File Read:UserWarning")
def test_an_exif_block_pillow_cannot_read_does_not_travel_unread() -> None:
    """One entry pointing past the block makes Pillow skip the whole IFD: the
    description it holds must not reach the original for being unseen."""
    where = b"taken at Rua das Flores\x00"
    text_at = 8 + 2 + 2 * 12 + 4
    ifd0 = struct.pack("<H", 2) + struct.pack("<HHI", 0x0000, 1, 5) + struct.pack("<I", 1 << 24) \
        + struct.pack("<HHII", 0x010E, 2, len(where), text_at) + struct.pack("<I", 0)
    out = io.BytesIO()
    Image.new("RGB", (24, 16)).save(out, "JPEG", exif=b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + where)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as unread:
        assert not unread.getexif()  # what Pillow makes of it
    assert b"Rua das Flores" not in prepare_photo(data).original


def _jpeg_with_exif(exif: Image.Exif, xmp: bytes | None = None) -> bytes:
    out = io.BytesIO()
    extra = {"xmp": xmp} if xmp is not None else {}
    two_colour_image(60, 40).save(out, "JPEG", exif=exif.tobytes(), **extra)
    return out.getvalue()


def test_only_the_tags_the_app_uses_stay_in_an_originals_exif() -> None:
    # Tags whose value is itself a metadata block or free text: XMP (700) and
    # IPTC (33723) inside the EXIF, Artist, the camera owner's name.
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "Google", "Pixel 8"
    exif[0x02BC] = XMP_GPS
    exif[0x83BB] = IPTC_CITY
    exif[ExifTags.Base.Artist] = "Ana at Rua Augusta 12"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2024:07:14 18:30:05"
    details[ExifTags.Base.CameraOwnerName] = "Ana, Lisbon"
    photo = prepare_photo(_jpeg_with_exif(exif))
    for trace in (b"GPSLatitude", b"Lisbon", b"Rua Augusta"):
        assert trace not in photo.original, trace
    with Image.open(io.BytesIO(photo.original)) as original:
        kept = original.getexif()
        assert dict(kept) == {ExifTags.Base.Orientation: 6, ExifTags.Base.Make: "Google",
                              ExifTags.Base.Model: "Pixel 8", ExifTags.IFD.Exif: kept[ExifTags.IFD.Exif]}
        assert dict(kept.get_ifd(ExifTags.IFD.Exif)) == {ExifTags.Base.DateTimeOriginal: "2024:07:14 18:30:05"}
    assert photo.taken_at is not None and photo.camera == "Google Pixel 8"


def test_an_orientation_given_only_in_xmp_turns_the_original_as_it_turns_the_thumbnail() -> None:
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/>'
           b'</rdf:RDF></x:xmpmeta>')
    out = io.BytesIO()
    two_colour_image(60, 40).save(out, "JPEG", xmp=xmp)
    photo = prepare_photo(out.getvalue())
    assert (photo.width, photo.height) == (40, 60)  # turned, as the thumbnail is
    assert Image.open(io.BytesIO(photo.thumbnail)).size[0] < Image.open(io.BytesIO(photo.thumbnail)).size[1]
    with Image.open(io.BytesIO(photo.original)) as original:
        assert "xmp" not in original.info
        assert original.getexif().get(ExifTags.Base.Orientation) == 6  # so every viewer turns it too
        original.load()
