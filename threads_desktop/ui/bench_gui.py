"""`threads-desktop bench gui`: the app with a 10,000-photo album, offscreen.

The parent makes the profile, then starts a child process that opens it the
way the app does (engine thread, network on 127.0.0.1, main window) and
measures from the inside: when the window was first shown, when the album's
grid first painted and when its first screen of thumbnails was on it, the
worst frame while scrolling the grid end to end, and the resident memory
after. A second child that only shows an empty Qt window gives the floor
for start-up on this machine in the same run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = {"startup_ms": 1500, "first_paint_ms": 200, "worst_frame_ms": 33, "rss_mb": 400}
_CHILD_TIMEOUT = 300


def run(photos: int, keep: Path | None = None) -> dict[str, Any]:
    """keep: a folder for the profile, built there once and reused by later
    runs with the same photo count (a 100,000-photo album takes minutes)."""
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as root:
        folder = keep if keep is not None else Path(root)
        profile = folder / f"profile-{photos}"
        made_file = folder / f"profile-{photos}.json"
        if keep is not None and made_file.exists():
            made = json.loads(made_file.read_text())
            thread_id, setup_s = made["thread"], made["setup_s"]
        else:
            started = time.perf_counter()
            thread_id = make_album(profile, photos)
            setup_s = time.perf_counter() - started
            if keep is not None:
                made_file.write_text(json.dumps({"thread": thread_id, "setup_s": setup_s}))
        _compile_bytecode()
        floor = _child(["--floor"])
        measured = _child(["--profile", str(profile), "--thread", thread_id])
    result: dict[str, Any] = {"photos": photos, "setup_s": round(setup_s, 1), **measured,
                              "floor_empty_qt_window_ms": floor["startup_ms"]}
    result["startup_ratio_to_floor"] = round(measured["startup_ms"] / max(1.0, floor["startup_ms"]), 2)
    result["targets"] = TARGETS
    result["met"] = {name: measured[name] <= limit for name, limit in TARGETS.items()}
    result["how"] = ("offscreen, 1280x800 window; startup = process start to the main window shown (profile "
                     "open, network on 127.0.0.1); first paint = album selected to its grid painted with cells; "
                     "frames = scroll steps of half a screen, each processed and repainted")
    return result


def summary(result: dict[str, Any]) -> str:
    met = result["met"]
    lines = [f"{result['photos']}-photo album (offscreen)"]
    for name, label in (("startup_ms", "start-up to window shown"), ("first_paint_ms", "album grid first paint"),
                        ("worst_frame_ms", "worst frame scrolling"), ("rss_mb", "resident memory after")):
        unit = "MB" if name == "rss_mb" else "ms"
        lines.append(f"{label:<28} {result[name]:>8} {unit}  target <= {TARGETS[name]}  "
                     f"{'met' if met[name] else 'MISSED'}")
    lines.append(f"{'empty Qt window (floor)':<28} {result['floor_empty_qt_window_ms']:>8} ms  "
                 f"ratio {result['startup_ratio_to_floor']}")
    lines.append(f"{'first screen of thumbnails':<28} {result['thumbnails_ms']:>8} ms;  "
                 f"{result['frames']} frames, median {result['median_frame_ms']} ms")
    return "\n".join(lines)


def make_album(profile: Path, count: int) -> str:
    """A profile with one album of `count` photos (real JPEG thumbnails)."""
    from PIL import Image

    from threads_desktop.engine.codec.cbor import Link
    from threads_desktop.engine.codec.cid import cid_of_cbor
    from threads_desktop.engine.core.types import ThreadKind
    from threads_desktop.engine.db.documents import db_event
    from threads_desktop.engine.node import Node

    thumbnails = []
    for i in range(16):  # a few distinct pictures, reused: decoding cost is what matters
        image = Image.effect_noise((64, 48), 60).convert("RGB").resize((256, 192))
        image.paste((i * 53 % 256, i * 97 % 256, 180), (0, 0, 128, 96))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80)
        thumbnails.append(out.getvalue())
    ref = {"manifest": Link(cid_of_cbor(b"bench")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    node = Node.open(profile)
    try:
        album = node.create_thread(ThreadKind.ALBUM, f"{count:,} photos").thread_id
        for start in range(0, count, 8):
            node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
                "name": f"IMG_{i:05}.jpg", "thumbnail": thumbnails[i % len(thumbnails)], "preview": ref,
                "original": ref, "width": 256, "height": 192, "taken_at": 1_700_000_000_000 + i * 60_000}})
                for i in range(start, min(count, start + 8))])
        return str(album)
    finally:
        node.close()


def _compile_bytecode() -> None:
    """Our modules' bytecode, written beside them as an install writes it
    (pip, the Flatpak and PyInstaller all ship it). From a source checkout
    run with PYTHONDONTWRITEBYTECODE, as this machine's sessions are, the
    child compiled every module at each start: 150-200 ms of CPU of its
    ~600 before the window. A read-only tree is measured as it is."""
    import compileall

    import threads_desktop

    for folder in threads_desktop.__path__:
        compileall.compile_dir(folder, quiet=2, workers=1)


def _child(arguments: list[str]) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "threads_desktop.ui.bench_gui", "--started", repr(started),
                           *arguments], env=env, capture_output=True, text=True, timeout=_CHILD_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the child process ---------------------------------------------------------------------


def _child_main(argv: list[str]) -> int:
    started = float(argv[argv.index("--started") + 1])
    if "--floor" in argv:
        print(json.dumps(_measure_empty_window(started)))
    else:
        profile = Path(argv[argv.index("--profile") + 1])
        print(json.dumps(_measure_app(started, profile, argv[argv.index("--thread") + 1])))
    return 0


def _measure_empty_window(started: float) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication([])
    window = QMainWindow()
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    return {"startup_ms": round((time.time() - started) * 1000)}


def _measure_app(started: float, profile: Path, thread_id: str) -> dict[str, Any]:
    import asyncio

    import qasync
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from threads_desktop.engine.node import Node
    from threads_desktop.engine.runtime import EngineRuntime
    from threads_desktop.serving import ServedProfile
    from threads_desktop.ui.collector import MainThreadCollector
    from threads_desktop.ui.engine_client import EngineClient
    from threads_desktop.ui.first_paint import AfterFirstPaint
    from threads_desktop.ui.models.photo_grid_model import PhotoRole
    from threads_desktop.ui.qt_environment import serial_painting
    from threads_desktop.ui.settings import AppSettings
    from threads_desktop.ui.views.main_window import MainWindow

    phases = {"imports_ms": round((time.time() - started) * 1000)}
    mark = time.perf_counter()
    serial_painting()  # as the app does
    app = QApplication([])
    phases["qapplication_ms"] = round((time.perf_counter() - mark) * 1000)
    MainThreadCollector(app).start()  # as the app does
    # The app's served profile but its control socket (which would bring the CLI in; nothing here uses it).
    served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False)
    runtime = EngineRuntime(lambda: Node.open(profile), served.services())
    engine_start = time.perf_counter()
    runtime.start(wait_for_services=False, hold_services=True)  # as the app does: the network after the paint
    phases["engine_start_ms"] = round((time.perf_counter() - engine_start) * 1000)
    loop = qasync.QEventLoop(app, already_running=True)  # the loop runs whenever Qt processes events
    asyncio.set_event_loop(loop)
    settings = AppSettings.from_file(profile.parent / "settings.ini")
    mark = time.perf_counter()
    window = MainWindow(EngineClient(runtime, loop), settings)
    window.resize(1280, 800)
    phases["window_ms"] = round((time.perf_counter() - mark) * 1000)
    result: dict[str, Any] = {}
    mark = time.perf_counter()
    window.show()
    AfterFirstPaint(window, runtime.start_services)
    app.processEvents()
    phases["show_ms"] = round((time.perf_counter() - mark) * 1000)
    result["startup_ms"] = round((time.time() - started) * 1000)
    result["startup_phases"] = phases
    result["rss_mb_at_start"] = _rss_mb()
    album = window.album_view
    grid = album.grid

    class PaintWatch(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.painted_with_rows: float | None = None

        def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and self.painted_with_rows is None and album.model.rowCount():
                QTimer.singleShot(0, self._stamp)  # after this paint has happened
            return False

        def _stamp(self) -> None:
            if self.painted_with_rows is None:
                self.painted_with_rows = time.perf_counter()
                # Off the viewport once it has served: a filter in Python is
                # one more call into the interpreter for every event of the
                # grid, which the app does not make.
                grid.viewport().removeEventFilter(self)

    watch = PaintWatch()
    grid.viewport().installEventFilter(watch)

    def visible_rows() -> list[int]:
        first = grid.indexAt(grid.viewport().rect().topLeft()).row()
        last = grid.indexAt(grid.viewport().rect().bottomRight() - grid.rect().topLeft()).row()
        last = last if last >= 0 else min(album.model.rowCount(), first + 40) - 1
        return list(range(max(0, first), last + 1))

    def screen_loaded() -> bool:
        rows = visible_rows()
        return bool(rows) and all(album.model.index(r).data(PhotoRole.THUMBNAIL) is not None for r in rows)

    def wait_for(condition: Any, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while not condition():
            if time.perf_counter() > deadline:
                raise RuntimeError("timed out waiting for the window")
            app.processEvents()
            time.sleep(0.001)

    wait_for(lambda: window.threads.rowCount() > 0, 60)
    selected = time.perf_counter()
    window.select_thread(thread_id)
    wait_for(lambda: watch.painted_with_rows is not None, 60)
    assert watch.painted_with_rows is not None
    result["first_paint_ms"] = round((watch.painted_with_rows - selected) * 1000, 1)
    wait_for(screen_loaded, 60)
    result["thumbnails_ms"] = round((time.perf_counter() - selected) * 1000, 1)
    frames = _scroll_end_to_end(app, grid)
    wait_for(screen_loaded, 60)
    window.close()
    runtime.stop()
    result["slowest_frames_at"] = sorted(range(len(frames)), key=frames.__getitem__)[-5:]
    frames.sort()
    result["frames"] = len(frames)
    result["worst_frame_ms"] = round(frames[-1], 1)
    result["median_frame_ms"] = round(frames[len(frames) // 2], 2)
    result["p99_frame_ms"] = round(frames[int(len(frames) * 0.99)], 1)
    result["rss_mb"] = _rss_mb()
    return result


def _scroll_end_to_end(app: Any, grid: Any) -> list[float]:
    """Half a screen per frame, top to bottom: each frame is the work Qt does
    for one scroll step (the events it has by then, model updates that
    arrived, and the repaint the scroll asked for)."""
    bar = grid.verticalScrollBar()
    model = grid.model()
    step = max(1, grid.viewport().height() // 2)
    frames = []
    value = 0
    # To the last row, not to where the scroll bar ends now: the grid lays
    # its rows out in batches (of 400) while it scrolls, and the bar grows
    # with them (a 100,000-photo album's bar stopped after 39 steps).
    last = model.index(model.rowCount() - 1, 0)
    deadline = time.perf_counter() + 600
    while value < bar.maximum() or (grid.visualRect(last).isEmpty() and time.perf_counter() < deadline):
        value = min(bar.maximum(), value + step)
        start = time.perf_counter()
        bar.setValue(value)
        app.processEvents()
        frames.append((time.perf_counter() - start) * 1000)
    return frames


def _rss_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return -1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
