"""One app per profile. The running app listens on a local socket named
after its profile folder; a second launch hands its threads:// link (or just
"come to the front") to it and exits, before it would try to open the
profile the first one holds.

Protocol: the client sends one line of UTF-8 JSON, at most 8 KiB with its
newline: {"v": 1, "action": "open", "link": "threads://join/..."} or
{"v": 1, "action": "activate"}; the server answers {"ok": true} (or false
for a request it refuses) and closes. Anything longer, malformed, or not
finished within a few seconds is dropped without effect."""

from __future__ import annotations

import getpass
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QStandardPaths, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

MAX_MESSAGE_BYTES = 8 * 1024
HANDOVER_TIMEOUT_MS = 1000
READ_TIMEOUT_MS = 5000  # a client that connects and says nothing is dropped after this
MAX_CONNECTIONS = 8
LINK_PREFIX = "threads://"
_ACK = b'{"ok": true}\n'
_NACK = b'{"ok": false}\n'


def server_name(data_dir: Path) -> str:
    """The local socket name for a profile folder: a hash of the resolved
    path and the user. On Unix a full path in the user's runtime folder
    (0700), so another user can neither squat the name nor receive the
    invite links sent to it, as they could under the shared /tmp."""
    key = f"{getpass.getuser()}\0{data_dir.expanduser().resolve()}"
    name = f"threads-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    if sys.platform == "win32":
        return name  # a named pipe; QLocalServer.UserAccessOption restricts it to this user
    runtime = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.RuntimeLocation)
    return str(Path(runtime) / f"{name}.sock") if runtime else name


@dataclass(frozen=True, slots=True)
class Request:
    link: str | None  # None: only bring the window to the front


def encode_request(link: str | None) -> bytes:
    message = {"v": 1, "action": "open", "link": link} if link else {"v": 1, "action": "activate"}
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


def decode_request(line: bytes) -> Request | None:
    """The request in one line (without its newline), or None for anything
    that is not exactly a well-formed request."""
    if len(line) >= MAX_MESSAGE_BYTES:
        return None
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(message, dict) or message.get("v") != 1:
        return None
    if message.get("action") == "activate":
        return Request(None)
    link = message.get("link")
    if message.get("action") == "open" and isinstance(link, str) and _is_link(link):
        return Request(link)
    return None


def _is_link(text: str) -> bool:
    # The join dialog parses and explains the link itself; here only keep out
    # what is plainly not one (another scheme, control characters).
    return text[:len(LINK_PREFIX)].lower() == LINK_PREFIX and text.isprintable()


# --- the second launch ---------------------------------------------------------------------

def hand_over(name: str, link: str | None, timeout_ms: int = HANDOVER_TIMEOUT_MS) -> bool:
    """Give the link to the app listening on `name` (or ask it to come to the
    front). True once it acknowledged; False when nothing answers in time
    (no app running: this launch becomes the app). Spins a local event loop
    for at most `timeout_ms`, so a server in this same thread (the tests) is
    served too."""
    socket = QLocalSocket()
    loop = QEventLoop()
    reply = bytearray()
    answered: list[bool] = []

    def on_connected() -> None:
        socket.write(encode_request(link))

    def on_ready_read() -> None:
        reply.extend(socket.readAll().data())
        if b"\n" in reply:
            answered.append(reply.split(b"\n", 1)[0].strip() == _ACK.strip())
            loop.quit()
        elif len(reply) > 64:
            answered.append(False)
            loop.quit()

    socket.connected.connect(on_connected)
    socket.readyRead.connect(on_ready_read)
    socket.errorOccurred.connect(lambda _error: loop.quit())
    socket.disconnected.connect(loop.quit)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(timeout_ms)
    socket.connectToServer(name)
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        loop.exec()
    timer.stop()
    socket.abort()
    return bool(answered) and answered[0]


def hand_over_without_display(data_dir: Path, link: str | None) -> bool:
    """hand_over() for a launch that has no display, so can have no
    QApplication: a QCoreApplication drives the local socket."""
    from PySide6.QtCore import QCoreApplication

    if QCoreApplication.instance() is None:
        QCoreApplication(sys.argv[:1])
    return hand_over(server_name(data_dir), link)


# --- the running app ----------------------------------------------------------------------

class InstanceServer(QObject):
    """Listens for later launches of the same profile. Everything is driven
    by signals: nothing here waits on the GUI thread."""

    activation_requested = Signal()
    link_received = Signal(str)
    request_refused = Signal()  # malformed, oversized or too slow: for tests and logs

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.setMaxPendingConnections(MAX_CONNECTIONS)
        self._server.newConnection.connect(self._on_new_connection)
        self._open: set[_Connection] = set()

    def listen(self) -> bool:
        """Start listening. Call only after hand_over() found nobody: the name
        is then stale (left by a crash) and is removed first."""
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    def is_listening(self) -> bool:
        return self._server.isListening()

    def close(self) -> None:
        self._server.close()
        for connection in list(self._open):
            connection.drop()

    def _on_new_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            if len(self._open) >= MAX_CONNECTIONS:
                socket.abort()
                socket.deleteLater()
                continue
            connection = _Connection(socket, self)
            self._open.add(connection)

    def _handled(self, connection: _Connection, request: Request | None) -> None:
        self._open.discard(connection)
        if request is None:
            self.request_refused.emit()
        elif request.link is None:
            self.activation_requested.emit()
        else:
            self.link_received.emit(request.link)


class _Connection(QObject):
    """One client: read one bounded line, answer, close."""

    def __init__(self, socket: QLocalSocket, server: InstanceServer) -> None:
        super().__init__(server)
        self._socket = socket
        self._server = server
        self._buffer = bytearray()
        self._done = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._finish(None, answer=None))
        self._timer.start(READ_TIMEOUT_MS)
        socket.readyRead.connect(self._on_ready_read)
        socket.disconnected.connect(self._on_disconnected)
        socket.disconnected.connect(socket.deleteLater)
        self._on_ready_read()  # bytes may have come with the connection

    def _on_ready_read(self) -> None:
        if self._done:
            return
        # Never read more than the limit allows: a flood stays in the kernel.
        chunk = self._socket.read(MAX_MESSAGE_BYTES + 1 - len(self._buffer)).data()
        self._buffer.extend(chunk)
        if b"\n" in self._buffer:
            line = bytes(self._buffer.split(b"\n", 1)[0])
            request = decode_request(line)
            self._finish(request, answer=_ACK if request is not None else _NACK)
        elif len(self._buffer) > MAX_MESSAGE_BYTES:
            self._finish(None, answer=None)

    def _on_disconnected(self) -> None:
        if not self._done:  # hung up before a full line
            self._finish(None, answer=None)

    def _finish(self, request: Request | None, answer: bytes | None) -> None:
        if self._done:
            return
        self._done = True
        self._timer.stop()
        if answer is not None:
            self._socket.write(answer)
            self._socket.disconnectFromServer()  # after the answer is written
        else:
            self._socket.abort()
        self._server._handled(self, request)
        self.deleteLater()

    def drop(self) -> None:
        self._done = True
        self._socket.abort()


def bring_to_front(window: QWidget) -> None:
    """Show the window wherever it is: hidden in the tray, minimised, or
    behind others."""
    if window.isMinimized():
        window.showNormal()
    else:
        window.show()
    window.raise_()
    window.activateWindow()
