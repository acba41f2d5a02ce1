"""Files: the one writer every file chainrule writes goes through, and the check that a file to be
read is a regular file.

``write(path, content)`` never leaves a half-written file and never writes through a link:

- the new content goes to a temporary file that ``tempfile.mkstemp`` creates in the target's folder
  (an unpredictable name, created with O_EXCL, so a symbolic link planted under any name is never
  followed), is flushed and fsynced, then moved over the target with ``os.replace`` (a rename: a
  reader sees the old file or the new one, never part of one);
- a target that is a symbolic link is refused: writing through it would change a file elsewhere, and
  replacing it would silently cut the link the user made (pass the path it points to instead);
- on any failure, an interrupt included, the temporary file is removed and the target is untouched;
- the new file's mode is 0666 & ~umask, as for ``cp``, ``np.save`` or a text editor (mkstemp alone
  would make it private, 0600).

A save killed outright (SIGKILL, power loss) cannot remove its temporary file: it stays in the target's
folder as ``.chainrule-XXXXXXXX.tmp``. The next write into that folder removes such files of ours
(the same owner) whose last change is more than ``STALE_SECONDS`` old; a save still in progress keeps
changing its file, and none takes that long.
"""

import os
import re
import stat
import tempfile
import time

__all__ = ["PREFIX", "STALE_SECONDS", "SUFFIX", "check_folder", "check_writable", "open_regular", "write"]

PREFIX, SUFFIX = ".chainrule-", ".tmp"
STALE_SECONDS = 3600
# mkstemp's names: PREFIX, 8 characters of [a-z0-9_], SUFFIX
_TEMPORARY = re.compile(re.escape(PREFIX) + r"[a-z0-9_]{8}" + re.escape(SUFFIX))


def write(path, content):
    """Write ``content`` to ``path`` atomically: bytes, a str (written as UTF-8), or a function
    ``content(f)`` that writes to the binary file object ``f`` (``np.savez``, ``fig.savefig``).

    Raises ValueError when ``path`` is a folder or a symbolic link, OSError (naming ``path``, not the
    temporary file) when the folder cannot be written.
    """
    path = os.fspath(path)
    _check_target(path)
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale(folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path!r} ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_folder(folder)  # makes the rename itself durable


def check_writable(path):
    """Raise ValueError, naming the place and the fix, unless a file at ``path`` can be written:
    ``path`` is neither a folder nor a symbolic link, and its folder exists and takes a new file."""
    path = os.fspath(path)
    _check_target(path)
    check_folder(os.path.dirname(os.path.abspath(path)))


def check_folder(folder, missing_ok=False):
    """Raise ValueError, naming the folder and the fix, unless new files can be written in ``folder``
    (tried with a temporary file, removed at once: the only test that also knows read-only file
    systems, quotas and access lists). With ``missing_ok`` a folder that does not exist yet passes
    when the nearest of its parents that exists takes one (``os.makedirs`` can create it there)."""
    folder = os.path.abspath(folder)
    existing = folder
    while missing_ok and not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.exists(existing):
        raise ValueError(f"the folder {folder!r} does not exist; create it first")
    if not os.path.isdir(existing):
        raise ValueError(f"{existing!r} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=existing)
    except OSError as e:
        raise ValueError(f"cannot write into the folder {existing!r} ({e.strerror}); "
                         "choose a folder you can write to") from None
    os.close(fd)
    os.unlink(tmp)


def open_regular(path, what="file", max_bytes=None):
    """Open ``path`` for reading in binary mode, refusing (ValueError) anything that is not a regular
    file — a folder, a FIFO (whose open would wait for a writer), a device such as /dev/zero (endless)
    — before opening it, and again on the opened file (it may have been swapped in between); and a
    file over ``max_bytes``. ``what`` names the file in the messages ("CSV file", "model file")."""
    path = os.fspath(path)
    try:
        _check_regular(os.stat(path), path, what, max_bytes)
        # O_NONBLOCK: if a FIFO was swapped in after the check, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ValueError(f"no {what} at {path!r}; check the path") from None
    except OSError as e:
        raise ValueError(f"cannot open the {what} {path!r} ({e.strerror})") from None
    try:
        _check_regular(os.fstat(fd), path, what, max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _check_regular(st, path, what, max_bytes):
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"cannot read {path!r}: it is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"cannot read {path!r}: it is a device, a FIFO or a socket, not a regular {what}")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ValueError(f"cannot read {path!r}: it has {st.st_size:,} bytes, more than the {max_bytes:,} "
                         f"a {what} may have")


def _check_target(path):
    if os.path.islink(path):
        raise ValueError(
            f"{path!r} is a symbolic link; chainrule does not write through links: "
            f"give the path it points to ({os.path.realpath(path)!r}) or remove the link"
        )
    if os.path.isdir(path):
        raise ValueError(f"cannot write {path!r}: it is a folder; give a file name inside it")


def _umask():
    """The process's umask: read from /proc where Linux has it, since setting and restoring it (the
    only other way) changes it for every thread for a moment."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_stale(folder):
    """Remove our leftover temporary files (see the module's docstring) from ``folder``."""
    cutoff = time.time() - STALE_SECONDS
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return  # the write itself will report the folder's problem
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            pass  # gone already, or not ours to remove


def _fsync_folder(folder):
    """Make the rename durable; skipped where a folder cannot be opened or synced (Windows, some
    network file systems): the file's own content is on disk already."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
