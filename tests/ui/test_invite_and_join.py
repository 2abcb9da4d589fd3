"""Inviting and joining from the window: a link and its QR code with Copy,
a join that brings the album over the network, and a bad link that says so
and changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import qasync
from PySide6.QtGui import QGuiApplication, QImage, QPixmap

from tests.ui.album import drop_files, photo_files
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink, write_qr
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.photo_grid_model import PhotoRole
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.views.main_window import MainWindow


def _decoded_qr(pixmap: QPixmap) -> str:
    import io

    import zxingcpp
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(bytes(buffer.data()))))
    return str(barcode.text)


def _window(qtbot, loop: qasync.QEventLoop, engine: EngineRuntime) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(EngineClient(engine, loop))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    return window


def test_photos_dropped_in_one_window_arrive_in_another_that_joined_by_its_link(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        tmp_path: Path) -> None:
    a, b = two_app_engines
    window_a, window_b = _window(qtbot, qt_loop, a), _window(qtbot, qt_loop, b)
    window_a.empty_new_album.click()
    assert window_a.new_thread_dialog is not None
    qtbot.keyClicks(window_a.new_thread_dialog.name_edit, "Lisbon")
    with qtbot.waitSignal(window_a.thread_created, timeout=10_000):
        window_a.new_thread_dialog.create_button.click()
    assert window_a.invite_action.isEnabled() and window_a.album_view.invite_button.isVisible()
    with qtbot.waitSignal(window_a.album_view.import_finished, timeout=30_000):
        drop_files(window_a.album_view.grid, photo_files(tmp_path / "photos", 3))
    qtbot.waitUntil(lambda: window_a.album_view.model.rowCount() == 3, timeout=10_000)  # A's grid: its change feed

    dialog = window_a.ask_invite()
    assert dialog is not None
    with qtbot.waitSignal(dialog.link_ready, timeout=10_000) as made:
        dialog.create_button.click()
    link = made.args[0]
    assert InviteLink.parse(link).name == "Lisbon"
    assert _decoded_qr(dialog.qr.pixmap()) == link  # the code on screen, as a camera would read it
    dialog.copy_link()
    assert QGuiApplication.clipboard().text() == link and dialog.copied.isVisible()

    join = window_b.ask_join()
    with qtbot.waitSignal(join.checked, timeout=10_000):
        join.link_edit.setPlainText(link)
    assert "Lisbon" in join.details.text() and join.join_button.isEnabled()
    with qtbot.waitSignal(join.joined, timeout=10_000):
        join.join_button.click()
    # The album comes over the network, name and all (until then it is listed as a join, by the link's name).
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 1 and window_b.threads.index(0).data() == "Lisbon"
                    and window_b.threads.index(0).data(ThreadRole.KIND) == "album", timeout=20_000)
    # Let in, it is the album selected in the sidebar and shown, as its join was.
    qtbot.waitUntil(lambda: window_b.pages.currentWidget() is window_b.album_view, timeout=10_000)
    qtbot.waitUntil(lambda: window_b.album_list.currentIndex().isValid()
                    and window_b.album_list.currentIndex().data(ThreadRole.NAME) == "Lisbon"
                    and window_b.album_list.selectionModel().isSelected(window_b.album_list.currentIndex()),
                    timeout=10_000)
    # ... and its photos, thumbnails and all, in B's grid.
    grid_b = window_b.album_view.model
    # Its rows come first (the album's count), their photos with the album's order.
    qtbot.waitUntil(lambda: grid_b.rowCount() == 3 and grid_b.complete(), timeout=30_000)
    assert grid_b.ids() == window_a.album_view.model.ids()
    qtbot.waitUntil(lambda: isinstance(grid_b.index(0).data(PhotoRole.THUMBNAIL), QImage), timeout=10_000)
    assert grid_b.index(0).data(PhotoRole.NAME) == "IMG_0002.jpg"


def test_a_bad_link_says_so_and_changes_nothing(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                 runtime: EngineRuntime) -> None:
    link = _link(qtbot, runtime, "Porto")
    # Made on the engine, the album reaches the window by its change feed, in its own time
    # (a CI run once looked before it came).
    qtbot.waitUntil(lambda: window.threads.rowCount() == 1, timeout=10_000)
    join = window.ask_join()
    damaged = "This link is incomplete or damaged; ask for a new one."
    for text, expected in (("threads://join/bafy", damaged), (link[:-6], damaged),
                           (link.replace("#", "#x"), damaged),
                           ("hello", "There is no invite link here. An invite link starts with threads://join/"),
                           ("https://example.org/join", "There is no invite link here.")):
        with qtbot.waitSignal(join.checked, timeout=10_000):
            join.link_edit.setPlainText(text)
        assert join.error.text().startswith(expected), text
        assert not join.join_button.isEnabled()
        assert "multibase" not in join.error.text() and "base32" not in join.error.text()
    join.reject()
    # Porto, made above: the bad links added nothing, on screen or in the profile.
    assert window.threads.rowCount() == 1
    assert wait_for(qtbot, runtime.call(lambda node: (len(node.list_threads()), node.pending_joins()))) == (1, [])


def _link(qtbot, runtime: EngineRuntime, name: str) -> str:  # type: ignore[no-untyped-def]
    async def make() -> str:
        summary = await runtime.call(Node.create_thread, ThreadKind.ALBUM, name)
        return str(await runtime.call(lambda node: node.invite(summary.thread_id, Role.WRITE).to_uri()))

    return wait_for(qtbot, make())


def _photo_of(code: Path, path: Path) -> Path:
    """The code as a camera or a screenshot gives it: smaller than the
    picture, off-centre, on a grey background, saved as JPEG."""
    from PIL import Image

    with Image.open(code) as image:
        picture = Image.new("RGB", (image.width * 3, image.height * 2), (200, 200, 190))
        picture.paste(image.convert("RGB"), (image.width // 2, image.height // 3))
    picture.save(path, quality=85)
    return path


def test_a_picture_of_a_qr_code_fills_in_the_link_and_shows_what_it_opens(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, runtime: EngineRuntime, tmp_path: Path) -> None:
    link = _link(qtbot, runtime, "Sintra")
    write_qr(link, tmp_path / "code.png")
    join = window.ask_join()
    file_dialog = join.ask_qr_image()
    assert file_dialog.isVisible() and join.file_dialog is file_dialog
    file_dialog.selectFile(str(tmp_path / "code.png"))
    with qtbot.waitSignal(join.qr_read, timeout=10_000) as read:
        file_dialog.accept()
    assert read.args == [link] and join.link_edit.toPlainText() == link
    assert "Sintra" in join.details.text() and join.error.text() == ""

    join.link_edit.clear()
    with qtbot.waitSignal(join.qr_read, timeout=10_000):
        join.load_qr_image(_photo_of(tmp_path / "code.png", tmp_path / "photo.jpg"))
    assert join.link_edit.toPlainText() == link


def test_a_picture_without_an_invite_code_says_so_and_leaves_the_box_alone(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (400, 300), (30, 120, 200)).save(tmp_path / "sky.png")
    write_qr("https://example.org/", tmp_path / "website.png")
    (tmp_path / "notes.png").write_text("not a picture")
    join = window.ask_join()
    for name, expected in (("sky.png", "No QR code was found in “sky.png”"),
                           ("website.png", "The QR code in “website.png” is not an invite link"),
                           ("notes.png", "Could not open “notes.png” as a picture")):
        with qtbot.waitSignal(join.qr_failed, timeout=10_000) as failed:
            join.load_qr_image(tmp_path / name)
        assert failed.args[0].startswith(expected) and join.error.text() == failed.args[0]
        assert join.link_edit.toPlainText() == "" and not join.join_button.isEnabled()
        assert join.open_qr_button.isEnabled()


def test_a_revoked_link_ends_on_a_page_saying_so_and_a_new_link_joins(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    import asyncio

    a, b = two_app_engines
    window_b = _window(qtbot, qt_loop, b)

    def revoked_link(node: Node) -> tuple[str, str]:
        node.set_display_name("Alice")
        thread_id = node.create_thread(ThreadKind.ALBUM, "Secret").thread_id
        link = node.invite(thread_id, Role.WRITE).to_uri()
        node.membership.revoke_invite(thread_id, node.membership.invites(thread_id)[0].key)
        return link, node.invite(thread_id, Role.WRITE).to_uri()

    made = asyncio.ensure_future(a.call(revoked_link))
    qtbot.waitUntil(made.done, timeout=10_000)
    revoked, fresh = made.result()
    join = window_b.ask_join(revoked)
    qtbot.waitUntil(join.join_button.isEnabled, timeout=10_000)  # once the link is checked
    with qtbot.waitSignal(join.joined, timeout=10_000):
        join.join_button.click()  # the link itself is well made: the refusal comes from A
    # Listed at once as a join, by the link's name, and its page says where it stands.
    qtbot.waitUntil(lambda: window_b.pages.currentWidget() is window_b.join_page, timeout=10_000)
    assert window_b.join_page.title.text() == "Secret" and window_b.joining_list.isVisible()
    qtbot.waitUntil(lambda: window_b.join_page.status.text() == "This invite was revoked", timeout=30_000)
    row = window_b.threads.row_of(window_b.threads.index(0).data(ThreadRole.THREAD_ID))
    assert window_b.threads.index(row).data(ThreadRole.STATUS_LINE) == "This invite was revoked"
    assert window_b.join_page.new_link_button.isVisible()
    assert not window_b.invite_action.isEnabled() and not window_b.members_action.isEnabled()

    # A refused profile joins again with a new link.
    window_b.join_page.new_link_button.click()
    again = window_b.join_dialog
    assert again is not None
    with qtbot.waitSignal(again.checked, timeout=10_000):
        again.link_edit.setPlainText(fresh)
    qtbot.waitUntil(again.join_button.isEnabled, timeout=10_000)
    with qtbot.waitSignal(again.joined, timeout=10_000):
        again.join_button.click()
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 1
                    and window_b.threads.index(0).data(ThreadRole.KIND) == "album", timeout=30_000)
    qtbot.waitUntil(lambda: window_b.pages.currentWidget() is window_b.album_view, timeout=10_000)
    assert not window_b.joining_list.isVisible()


def test_a_used_up_link_says_so_and_can_be_removed_from_the_list(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        tmp_path: Path) -> None:
    import asyncio

    from threads_desktop.engine.core.members import AdmissionStatus

    a, b = two_app_engines
    window_b = _window(qtbot, qt_loop, b)

    def spent_link(node: Node) -> str:
        thread_id = node.create_thread(ThreadKind.ALBUM, "Porto").thread_id
        return node.invite(thread_id, Role.WRITE, uses=1).to_uri()

    made = asyncio.ensure_future(a.call(spent_link))
    qtbot.waitUntil(made.done, timeout=10_000)
    link = made.result()
    third = Node.open(tmp_path / "c")  # someone else used it first (their admission, in process)
    try:
        thread_id = third.membership.join(InviteLink.parse(link))
        request = third.membership.admission_request(thread_id, "Carol")
        asker = str(third.identity.peer_id)
        answered = asyncio.ensure_future(a.call(lambda node: node.answer_admission(request, asker)))
        qtbot.waitUntil(answered.done, timeout=10_000)
        assert answered.result().status is AdmissionStatus.ADMITTED
    finally:
        third.close()
    join = window_b.ask_join(link)
    qtbot.waitUntil(join.join_button.isEnabled, timeout=10_000)
    with qtbot.waitSignal(join.joined, timeout=10_000):
        join.join_button.click()
    qtbot.waitUntil(lambda: window_b.join_page.status.text() == "This invite was used up", timeout=30_000)
    assert "for a new link" in window_b.join_page.explanation.text()
    window_b.join_page.remove_button.click()
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 0, timeout=10_000)
    assert not window_b.joining_list.isVisible() and window_b.pages.currentIndex() == 0


def test_the_join_dialog_takes_a_pasted_message_and_names_who_sent_it(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    a, b = two_app_engines
    window_b = _window(qtbot, qt_loop, b)

    def invite(node: Node) -> str:
        node.set_display_name("Alice")
        thread_id = node.create_thread(ThreadKind.ALBUM, "Lisbon").thread_id
        return node.invite(thread_id, Role.WRITE).to_uri()

    made = asyncio.ensure_future(a.call(invite))
    qtbot.waitUntil(made.done, timeout=10_000)
    link = made.result()
    # As a messenger passes it on: words around it, wrapped over two lines.
    QGuiApplication.clipboard().setText(f"Join my album: {link[:60]}\n{link[60:]}\nSee you!")

    window_b.activateWindow()
    assert window_b.empty_join.isVisible()  # the first screen offers to join, not only to start
    window_b.empty_join.click()
    join = window_b.join_dialog
    qtbot.waitUntil(lambda: QApplication.focusWidget() is join.link_edit, timeout=5_000)
    with qtbot.waitSignal(join.checked, timeout=10_000):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert join.error.text() == ""
    assert join.details.text().splitlines()[:2] == ["“Lisbon”: you can add photos and messages.", "From Alice"]
    assert join.join_button.isEnabled() and join.join_button.text() == "Join"
    with qtbot.waitSignal(join.joined, timeout=10_000):
        join.join_button.click()
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 1
                    and window_b.threads.index(0).data(ThreadRole.KIND) == "album", timeout=20_000)

    # The same link again: said at once, with the thread to open instead.
    again = window_b.ask_join()
    with qtbot.waitSignal(again.checked, timeout=10_000):
        again.link_edit.setPlainText(link)
    assert again.details.text() == "You are already a member of “Lisbon”." and again.error.text() == ""
    assert again.join_button.text() == "Open" and again.join_button.isEnabled()
    with qtbot.waitSignal(again.joined, timeout=10_000) as opened:
        again.join_button.click()
    assert str(opened.args[0]) == str(InviteLink.parse(link).thread_id) and window_b.threads.rowCount() == 1


def test_the_join_dialog_warns_that_an_admin_lets_each_joiner_in_by_hand(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    alice = Node.open(tmp_path / "alice")
    try:
        alice.set_display_name("Alice")
        thread_id = alice.create_thread(ThreadKind.ALBUM, "Lisbon").thread_id
        by_hand = alice.invite(thread_id, Role.READ, approve_by_hand=True).to_uri()
        automatic = alice.invite(thread_id, Role.READ).to_uri()
    finally:
        alice.close()
    join = window.ask_join()
    with qtbot.waitSignal(join.checked, timeout=10_000):
        join.link_edit.setPlainText(by_hand)
    assert join.details.text().splitlines() == [
        "“Lisbon”: you can view it.", "From Alice", "An admin will let you in by hand; you may have to wait.",
        "The link names no address: it will sync when you meet a member nearby."]
    assert join.join_button.isEnabled() and join.error.text() == ""
    with qtbot.waitSignal(join.checked, timeout=10_000):
        join.link_edit.setPlainText(automatic)
    assert "by hand" not in join.details.text()
    join.reject()
