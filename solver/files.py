"""Reading the files a user names (case, sweep and table files): regular files only; and
writing result files whole or not at all.

A FIFO, a device or a socket named as a case file would block a read for ever (or read for
ever, as /dev/zero does); a directory cannot be read. Each becomes an InputError naming the
key, and so does a file larger than a case or table could reasonably be.
"""

from __future__ import annotations

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
