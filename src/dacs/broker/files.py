"""Write the files a broker reads so that it never sees half of one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import tempfile


def write_atomically(
    path: Path,
    data: bytes | str,
    *,
    mode: int = 0o600,
    owner: tuple[int, int] | None = None,
) -> None:
    """Replace ``path`` with ``data`` in one step, with permissions ``mode``.

    The new content goes to a temporary file in the same directory first, so a
    crash or power cut leaves either the old or the new file, never a torn one;
    the file has its final mode before it receives any content, so a secret is
    never readable by others, not even briefly.

    ``owner`` (uid, gid) keeps a file readable by a broker that runs as
    another user than the writer: the replacement is a new file, owned by
    whoever writes it unless told otherwise.
    """
    content = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if owner is not None:
                os.fchown(handle.fileno(), *owner)
            os.fchmod(handle.fileno(), mode)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems (e.g. in containers) refuse fsync on directories
    finally:
        os.close(descriptor)
