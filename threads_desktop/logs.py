"""Logging to a rotating file in the profile's data folder, with secrets
redacted before anything is written.

`<data dir>/logs/threads-desktop.log` (1 MiB, five older files kept), the
folder 0700 and the files 0600 like the rest of the profile. Invite links
carry their keys in the fragment (`threads://join/...#<keys>`): every record
goes through RedactingFilter, which cuts their fragments (and query: it
names the thread) and anything that looks like a key (long hex, long
mixed-case base64, bytes literals), so a log file or the diagnostics built
from it can be shared.

Imports only the standard library: the CLI sets this up before the engine."""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
from collections import deque
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LOG_FOLDER = "logs"
LOG_FILE_NAME = "threads-desktop.log"
MAX_BYTES = 1 << 20
BACKUP_COUNT = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "<redacted>"

# A threads: link's query (the thread's name, addresses) and fragment (its
# keys); the thread ID before them stays, it says which link it was. Never
# matches an already redacted link: redact() may run twice on a line.
_LINK = re.compile(r"(threads:[^\s?#\"'<>]*)(\?[^\s#\"'<>]+)?(#[^\s\"'<>]+)?", re.IGNORECASE)
# 16 bytes or more in hex: keys, seeds, hashes of keys.
_HEX = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{32,}(?![0-9A-Za-z])")
# Base64 / base64url runs of 32+ characters (24 bytes or more). Thread IDs and
# CIDs (multibase base32, lower case) and peer IDs (base58 '12D3KooW' or
# 'Qm') are public and say which thread or peer a line is about: they stay.
# ('/' splits tokens: multiaddrs and paths hold peer IDs after one; the
# project's keys are base64url, never standard base64.)
_BASE64 = re.compile(r"(?<![A-Za-z0-9_+-])[A-Za-z0-9_+-]{32,}={0,2}(?![A-Za-z0-9_+=-])")
_PEER_ID = re.compile(r"(?:12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]+")
# A bytes literal as repr() prints it (a key passed to a log call by mistake).
_BYTES_LITERAL = re.compile(r"""(?<![A-Za-z0-9_])b(['"])(?:\\.|(?!\1).){16,}?\1""")


def redact(text: str) -> str:
    """`text` without links' names and keys or anything that looks like a
    key. Redacting twice changes nothing more."""
    text = _LINK.sub(_redact_link, text)
    text = _BYTES_LITERAL.sub(f"b'{REDACTED}'", text)
    text = _HEX.sub(REDACTED, text)
    return _BASE64.sub(_redact_base64, text)


def _redact_link(match: re.Match[str]) -> str:
    query = f"?{REDACTED}" if match.group(2) else ""
    fragment = f"#{REDACTED}" if match.group(3) else ""
    return match.group(1) + query + fragment


def _redact_base64(match: re.Match[str]) -> str:
    token = match.group(0)
    if _PEER_ID.fullmatch(token):
        return token
    if token.lower() == token or token.upper() == token:
        return token  # base32 IDs, hex-less identifiers: one case only, no base64 key looks like that
    return REDACTED


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and its traceback) through redact().
    On the handlers, not the loggers: a logger's filter never sees records
    that propagate from its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # The formatter caches the traceback text here; an exception's
            # message may hold a link (e.g. a join that failed).
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """RotatingFileHandler whose files are 0600 whatever the umask (it
    reopens a new file at each rollover through _open), that stays closed
    once closed, and that says once, not per record, when it cannot write.

    Closed for good: logging.shutdown() closes it at exit, and the standard
    handler reopens its file for any record that comes after (an asyncio
    task destroyed during interpreter teardown logs one): by then `open` is
    gone from builtins and each such record printed a NameError traceback.
    Later records still reach the console handler.

    Quiet on OSError: logging's handleError prints a traceback per record,
    so on a full disk every line became one on stderr. Here the first
    failure prints one line and the rest are dropped until a record is
    written again."""

    def __init__(self, filename: Path, **kwargs: Any) -> None:
        self._closed_for_good = False
        self._failing = False  # the last record could not be written
        self._failed_now = False
        super().__init__(filename, **kwargs)

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # never a device the path may lead to
                os.fchmod(fd, 0o600)  # a file left by an older version or a looser umask
            return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # the handler closes it
        except BaseException:
            os.close(fd)
            raise

    def emit(self, record: logging.LogRecord) -> None:
        if self._closed_for_good:
            return
        self._failed_now = False
        super().emit(record)  # calls handleError on failure
        if self._failing and not self._failed_now:
            self._failing = False  # written again: the next failure is reported again

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._failed_now = True
        if not self._failing:
            self._failing = True
            _say(f"threads-desktop: cannot write the log {self.baseFilename} "
                 f"({error.strerror or error}); it is not written until that works again")

    def close(self) -> None:
        self._closed_for_good = True
        super().close()


def _say(line: str) -> None:
    stream = sys.stderr
    if stream is None:  # a process without a console (pythonw, a detached service)
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):  # stderr itself is gone: nothing left to tell
        pass


class _NotFileOnly(logging.Filter):
    """Keeps records logged with log_to_file_only off the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, _FILE_ONLY, False)


_FILE_ONLY = "threads_file_only"


def log_to_file_only(logger: logging.Logger, message: str, exc: BaseException) -> None:
    """Log `exc`'s traceback to the log file but not the console, where the
    user was shown a plain message instead. Nothing without a log set up
    (Python would print it on stderr as a last resort)."""
    if logging.getLogger().handlers:
        logger.error("%s", message, exc_info=exc, extra={_FILE_ONLY: True})


@dataclass
class LoggingSetup:
    """What setup_logging installed, so it can be taken down (tests, and a
    process that opens another profile)."""

    path: Path
    handlers: list[logging.Handler] = field(default_factory=list)

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
            handler.close()
        self.handlers.clear()


def log_path(data_dir: Path) -> Path:
    return data_dir / LOG_FOLDER / LOG_FILE_NAME


def quiet_libp2p() -> None:
    """py-libp2p's critical records only, into our handlers. Importing it
    sets its logger to WARNING and stops it propagating
    (libp2p/__init__.py:141, utils/logging.py:117-122), which undid
    setup_logging's level once the network started: its routine churn
    (each reachability dial-back's "fail to upgrade mux" at ERROR) went to
    stderr bare, past our log. So this runs after that import, where the
    network starts (serving.py). LIBP2P_DEBUG set: its own logging stays."""
    import libp2p  # noqa: F401  # its import-time set-up first (nothing more when already imported)

    if os.environ.get("LIBP2P_DEBUG", "").strip():
        return
    logger = logging.getLogger("libp2p")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = True


def setup_logging(data_dir: Path, *, stderr: bool = False) -> LoggingSetup:
    """Log this process to `<data dir>/logs/threads-desktop.log`, and to
    stderr: everything for a headless `serve` (a service manager keeps it),
    only warnings for the app (as Python did before any setup).

    Our own modules log from INFO; other libraries only warnings, and
    py-libp2p nothing below CRITICAL (it logs routine connection churn as
    warnings and errors; its import undoes that, so `quiet_libp2p` says it
    again once the network has imported it)."""
    path = log_path(data_dir.expanduser())
    handlers: list[logging.Handler] = []
    try:
        handlers.append(_open_file_handler(path))
    except OSError as exc:
        # The profile cannot open either, and says why to the user; the log
        # is no reason to stop before that.
        print(f"threads-desktop: cannot write the log {path}: {exc}", file=sys.stderr)
    console = logging.StreamHandler(sys.stderr)
    console.addFilter(_NotFileOnly())
    if not stderr:
        console.setLevel(logging.WARNING)
    handlers.append(console)
    formatter = logging.Formatter(FORMAT)
    redacting = RedactingFilter()
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redacting)
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("threads_desktop").setLevel(logging.INFO)
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)
    from threads_desktop import __version__

    logging.getLogger(__name__).info("threads-desktop %s started (pid %d)", __version__, os.getpid())
    return LoggingSetup(path, handlers)


def _open_file_handler(path: Path) -> logging.Handler:
    # The data folder is made 0700 here as the profile would (this runs
    # before the profile opens); the log folder likewise.
    path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path.parent, 0o700)
    return _PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")


def recent_log_lines(data_dir: Path, count: int = 200) -> list[str]:
    """The last `count` lines logged for this profile, oldest first (from
    the rotated files too when the current one is shorter), redacted again:
    a file may hold lines written before redaction existed."""
    path = log_path(data_dir)
    newest_first = [path] + [path.with_name(f"{path.name}.{n}") for n in range(1, BACKUP_COUNT + 1)]
    lines: deque[str] = deque()
    for file in newest_first:
        if len(lines) >= count:
            break
        lines.extendleft(reversed(_read_lines(file)))
    return [redact(line) for line in list(lines)[-count:]] if count > 0 else []


def _read_lines(path: Path) -> list[str]:
    try:
        with path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            stream.seek(max(0, size - MAX_BYTES))  # a file grown past its limit (another process) is read in part
            data = stream.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()
