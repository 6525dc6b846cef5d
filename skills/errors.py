"""Errors a person can act on: one sentence naming the file, column or value at fault.

The CLI prints `str(err)` and exits with `err.exit_code`; anything else is a bug and gets the
internal-error path.
"""

from __future__ import annotations

import errno
from pathlib import Path


class UserError(Exception):
    """Bad input: missing file, wrong column, empty or undecodable data, unusable labels."""

    exit_code = 1


class NeedsInput(UserError):
    """The request cannot go on without something only the person can provide."""

    exit_code = 2


class NotApproved(UserError):
    """A risky or paid step that the approval policy or the person did not approve (declined)."""

    exit_code = 2


class DiskFull(UserError):
    """No space left (or over quota) where a run writes; what was written so far stays consistent."""

    exit_code = 1


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_WORDS = ("No space left on device", "Disk quota exceeded")


def is_disk_full(err: BaseException | None) -> bool:
    """Whether `err`, or an error it was raised from, says the disk is full (also when a job
    reported it as text)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, DiskFull) or (isinstance(err, OSError) and err.errno in _FULL_ERRNOS):
            return True
        if any(words in str(err) for words in _FULL_WORDS):
            return True
        err = err.__cause__ or err.__context__
    return False


def disk_full(where: str | Path, resumable: bool = True) -> DiskFull:
    """The one sentence for a full disk under `where` (a run directory or --out)."""
    then = f"continue with: trainer-agent resume {where}" if resumable else "run the command again"
    return DiskFull(f"no space left on the device that holds '{where}'; free some space, then {then}")


def write_error(err: OSError, path: str | Path, run_dir: str | Path | None = None) -> UserError:
    """One sentence for an OSError while writing `path` (of the resumable run `run_dir`, if any):
    a full disk, or what the system said."""
    if is_disk_full(err):
        return disk_full(run_dir or Path(path).parent, resumable=run_dir is not None)
    return UserError(f"cannot write '{path}': {err.strerror or err}.")
