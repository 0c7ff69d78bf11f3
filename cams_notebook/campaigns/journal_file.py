"""The journal file on disk: its OS lock, and the check that an existing file is a whole SQLite
database before it is opened.

Apart from the store (:class:`~.journal.SqliteJournal`) because both work below SQLite, on the
file itself: the lock is taken before the database is opened at all, and a file cut short
mid-write is refused before SQLite could take it for an empty journal.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from typing import IO, Any

__all__ = ["FileLock", "damage"]


class FileLock:
    """An exclusive OS lock on ``<path>.lock`` that says who holds it.

    ``flock`` (``msvcrt.locking`` on Windows) rather than a row in the database: the kernel
    releases it when the holder dies, so a killed run never leaves the journal locked, and
    it is taken before the database file is opened at all.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> dict[str, Any] | None:
        """Take the lock: None once it is held; when another holds it, what that holder wrote
        (``pid``, ``host``, ``since``; ``{}`` when unreadable)."""
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            handle.close()
            return holder if isinstance(holder, dict) else {}
        handle.seek(0)
        handle.truncate()
        since = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": since}))
        handle.flush()
        self._handle = handle
        return None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            _unlock(handle)
            handle.close()


try:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def damage(path: str) -> str | None:
    """Why the file at ``path`` is not a whole SQLite database (a copy cut short mid-write), or
    None when it is one."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(18)
    header, page = head[:16], int.from_bytes(head[16:18], "big") if len(head) >= 18 else 0
    page = 65536 if page == 1 else page
    if size < 512 or header != b"SQLite format 3\x00" or not page or size % page:
        # An existing journal this small or without the SQLite header is a copy cut
        # short mid-write: reusing it would forget what was sent.
        return f"file is not a database, or a journal cut short mid-write ({size} bytes)"
    return None
