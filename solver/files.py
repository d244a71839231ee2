"""Reading the files a user names (case, sweep and table files): regular files only;
writing result files whole or not at all; and one command at a time in an output folder.

A FIFO, a device or a socket named as a case file would block a read for ever (or read for
ever, as /dev/zero does); a directory cannot be read. Each becomes an InputError naming the
key, and so does a file larger than a case or table could reasonably be.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from pathlib import Path

from .errors import InputError

# Case, sweep and table files are kilobytes; a data table of 1e5 rows is about 4 MB.
MAX_TEXT_BYTES = 16 * 1024 * 1024


def path_exists(path, key: str) -> bool:
    """Whether something exists at `path`; a path the system cannot even look up (a name
    too long, a folder on the way that cannot be searched, a loop of symbolic links) is an
    InputError naming `key`, where pathlib's exists() would raise an OSError."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise InputError(key, str(path), f"a path the system can look up "
                                         f"({exc.strerror or type(exc).__name__})") from None
    return True


def read_text(path, key: str, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`; any other outcome is an InputError
    with `key` (the value shown is the path, never the content)."""
    path = Path(path)
    shown = str(path)
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(key, shown, f"an existing {what} (there is no such file)") from None
    except IsADirectoryError:
        raise InputError(key, shown, f"a {what}, not a directory") from None
    except OSError as exc:
        raise InputError(key, shown, f"a readable {what} ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(key, shown, f"a {what}, not a directory")
        if not stat.S_ISREG(mode):
            raise InputError(key, shown, f"a {what} that is a regular file (not a FIFO, "
                                         f"device or socket)")
        with os.fdopen(fd, "rb") as handle:
            fd = None
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(key, shown, f"a readable {what} ({exc.strerror})") from None
    finally:
        if fd is not None:
            os.close(fd)
    if len(data) > limit:
        raise InputError(key, shown, f"a {what} of at most {limit // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(key, f"{path.name}, byte {exc.start}",
                         f"a {what} in UTF-8 text") from None


def write_atomic(path: Path, content) -> Path:
    """Write to a temporary file beside `path`, then rename: the file is complete or absent.

    The file is created with mode 0666 less the umask, as open() would (mkstemp's 0600
    would hide results from the group).
    """
    path = Path(path)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


LOCK_NAME = ".thinfilm.lock"


@contextlib.contextmanager
def folder_lock(folder, key: str = "--out"):
    """Hold an exclusive lock on output `folder` (created if absent) while the block runs:
    a second command writing to the same folder would interleave its files with ours.

    The lock is flock(2) on FOLDER/.thinfilm.lock: the system releases it when the process
    ends, however it ends, so the file a killed run leaves behind blocks nobody. A folder
    this call created is removed again when nothing was written into it (a refused input
    writes nothing). Another holder is an InputError naming `key` and the folder.
    """
    folder = Path(folder)
    created = _missing_folders(folder)
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = _locked_file(path, key, folder)
    except OSError as exc:
        raise InputError(key, str(folder), f"a folder that can be written "
                                           f"({exc.strerror or type(exc).__name__})") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)       # before the unlock: see _locked_file
        os.close(fd)
        for made in created:               # innermost first
            try:
                made.rmdir()
            except OSError:                # results in it (or an unrelated file): kept
                break


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _locked_file(path: Path, key: str, folder: Path) -> int:
    """A descriptor of `path` holding its exclusive flock. A holder unlinks the file
    before it unlocks, so the lock is ours only if `path` still names the file we locked
    (otherwise we locked a file its holder had just unlinked: try the new one)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise InputError(key, str(folder), f"a folder no other thinfilm command is "
                                               f"writing to: another one{who} is writing to "
                                               f"it; wait for it to end, or choose another "
                                               f"folder") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
