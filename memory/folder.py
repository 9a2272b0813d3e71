"""The folder of an embedded memory: its `evolver.json` marker and its single-writer lock.

An embedded Chroma store keeps its vector index in the memory of the process that opened it,
so two processes writing one folder corrupt it. The lock is an `flock` on `evolver.lock`, which
also names the holder's PID: the operating system drops it when the holder dies, so a lock
file left by a dead process is simply taken over. Within one process the folder can be opened
any number of times (Chroma shares one client per path).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from evolver.memory.schema import SCHEMA_VERSION

MARKER_FILE = "evolver.json"
LOCK_FILE = "evolver.lock"
FORMAT = "evolver-memory"


class MemoryLockedError(RuntimeError):
    """The embedded memory is open in another process."""


_held: dict[Path, tuple[int, int]] = {}  # folder -> (lock file descriptor, open count)


def check_folder(folder: Path) -> None:
    """Refuse a folder that another tool owns or a newer evolver wrote; writes nothing."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"Expected `path` to be a folder for the memory, got the file {folder}.")
    marker = folder / MARKER_FILE
    if marker.exists():
        try:
            data = json.loads(marker.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{marker} is not valid JSON ({error}); it was not written by evolver."
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(
                f"{folder} holds an {MARKER_FILE} of another tool (expected format {FORMAT!r}). "
                "Point `path` at a new or empty folder; evolver never overwrites another tool's files."
            )
        if data.get("schema_version", 0) > SCHEMA_VERSION:
            raise ValueError(
                f"The memory at {folder} has schema version {data['schema_version']}, newer than "
                f"this evolver reads ({SCHEMA_VERSION}). Upgrade evolver to open it."
            )
        return
    # Our own lock or half-written marker may be all that a crash during creation left.
    others = (
        sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("evolver."))
        if folder.exists()
        else []
    )
    if others:
        found = ", ".join(others[:5])
        raise ValueError(
            f"{folder} is not an evolver memory: it has no {MARKER_FILE} but holds other files "
            f"({found}). Point `path` at a new or empty folder; evolver never overwrites another tool's files."
        )


def lock_folder(folder: Path) -> None:
    """Take the folder's lock (or count one more user of it), creating the folder and its marker."""
    folder = folder.resolve()
    if folder in _held:
        fd, users = _held[folder]
        _held[folder] = (fd, users + 1)
        return
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER_FILE
    if not marker.exists():
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(json.dumps({"format": FORMAT, "schema_version": SCHEMA_VERSION}) + "\n")
        os.replace(temporary, marker)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise MemoryLockedError(
            f"The memory at {folder} is open in another process (PID {holder}). An embedded store "
            f"serves one process; to share it, serve it with `chroma run --path {folder} --port 8000` "
            "and connect every process to it with `--url http://localhost:8000` "
            "(`ExperienceMemory(url=...)`)."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[folder] = (fd, 1)


def unlock_folder(folder: Path) -> None:
    """Drop one user of the folder's lock; the last one releases it."""
    folder = folder.resolve()
    fd, users = _held[folder]
    if users > 1:
        _held[folder] = (fd, users - 1)
        return
    del _held[folder]
    os.ftruncate(fd, 0)
    os.close(fd)
