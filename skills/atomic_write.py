"""Write a file so that a reader sees the old content or the new, never a torn one.

    write_atomic(path, text)              # a temporary file beside it, then a rename
    write_atomic(path, text, durable=True)  # ... fsync'd first: survives a power cut too

A write that fails (a full disk) removes the temporary file and raises the OSError; the old file
is untouched.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(path: str | Path, text: str, durable: bool = False) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
