"""Writing files so that a crash, Ctrl-C or SIGKILL never leaves a damaged one.

- :func:`write_atomic` writes a file under a temporary name in the same folder, flushes it to
  disk, then renames it over the target in one step: readers see the old file or the new one.
- :func:`atomic_directory` does the same for a whole directory.
- Temporary names carry the writing process's id (``.NAME.tmp-PID-…``, ``.NAME.partial-PID-…``),
  so :func:`remove_stale_temporaries` can delete what a killed process left behind without
  touching a live writer's files.
- :func:`check_writable` probes a folder before anything expensive starts.

Errors about files are :class:`FileFormatError` (a damaged or foreign file) and
:class:`OutputError` (a path that cannot be written); both carry a one-line message that names
the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class FileFormatError(ValueError):
    """A file sslax reads is damaged, truncated or not what it should be."""


class OutputError(OSError):
    """A path sslax has to write cannot be written (read-only, no permission, not a folder,
    disk full). Built as ``OutputError(errno, message)``; ``str()`` is the message."""

    def __str__(self) -> str:
        return str(self.strerror)


class LeftoverWarning(UserWarning):
    """Temporary files of an interrupted write were found (and removed)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_prefix(path: Path, kind: str) -> str:
    return f".{path.name}.{kind}-{os.getpid()}-"


def describe_os_error(error: OSError) -> str:
    """A short reason for an OS error ("read-only file system", "no space left on device")."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return reason[0].lower() + reason[1:] if reason else str(error)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, then
    a rename over ``path``. On any error the temporary file is removed and ``path`` is as it
    was; an ``OSError`` becomes an :class:`OutputError` naming ``path``."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path, "tmp"))
    except OSError as error:
        raise OutputError(error.errno, f"cannot write {str(path)!r}: "
                                       f"{describe_os_error(error)}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make results private
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(error.errno, f"cannot write {str(path)!r}: "
                                           f"{describe_os_error(error)}") from None
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success rename it to ``path``.

    On any error (or interrupt) the temporary directory is removed and ``path`` is never
    created. ``path`` must not exist.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{str(path)!r} already exists (sslax never overwrites results)")
    make_directory(path.parent)
    try:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_temporary_prefix(path, "partial")))
    except OSError as error:
        raise OutputError(error.errno, f"cannot write in {str(path.parent)!r}: "
                                       f"{describe_os_error(error)}") from None
    try:
        tmp.chmod(0o777 & ~_umask())
        yield tmp
        os.rename(tmp, path)  # atomic; fails if path appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def make_directory(path: Path) -> None:
    """``mkdir -p path``, with a one-line :class:`OutputError` when it cannot be made."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(errno.ENOTDIR, f"cannot create {str(path)!r}: a file of that name "
                                         f"(or of a parent's name) exists") from None
    except OSError as error:
        raise OutputError(error.errno, f"cannot create {str(path)!r}: "
                                       f"{describe_os_error(error)}") from None


def check_writable(folder: Path, needed_bytes: int = 0) -> None:
    """Raise :class:`OutputError` unless a file can be created in ``folder`` (which must
    exist) and ``needed_bytes`` are free there."""
    folder = Path(folder)
    probe = folder / f".sslax-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputError(error.errno, f"cannot write in {str(folder)!r}: "
                                       f"{describe_os_error(error)}") from None
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise OutputError(errno.ENOSPC, f"not enough free space in {str(folder)!r}: "
                                        f"{free / 1e6:.1f} MB free, about "
                                        f"{needed_bytes / 1e6:.1f} MB needed")


_TEMPORARY = re.compile(r"^\..+\.(tmp|partial)-(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files and directories in ``folder`` left by writers that no longer
    run (killed mid-write); returns what was removed. A live process's are kept."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match is None or _alive(int(match.group(2))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
