"""Errors a person can act on: one sentence naming the file, column or value at fault.

The CLI prints `str(err)` and exits with `err.exit_code`; anything else is a bug and gets the
internal-error path.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: missing file, wrong column, empty or undecodable data, unusable labels."""

    exit_code = 1


class NeedsInput(UserError):
    """The request cannot go on without something only the person can provide."""

    exit_code = 2


class NotApproved(UserError):
    """A risky or paid step that the approval policy or the person did not approve (declined)."""

    exit_code = 2
