"""SIGTERM and SIGHUP take the same orderly path as Ctrl-C (SIGINT).

    with stop_on_signals() as caught:
        work()            # a signal raises Interrupted(signum), a KeyboardInterrupt, once
        caught.check()    # ... or here, if Python dropped it (raised inside a __del__)

The handler raises only for the first signal: a second one must not cut into the clean-up that
the first started (stopping the job and the service, recording the run as interrupted). The exit
code of an interrupted command is 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM,
129 for SIGHUP, as a shell reports a process killed by it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(err: BaseException) -> int:
    """The signal behind an interrupt: its own for Interrupted, SIGINT for a plain Ctrl-C."""
    return int(getattr(err, "signum", signal.SIGINT))


def exit_code(signum: int) -> int:
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class Caught:
    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        """Raise Interrupted if a signal came but its exception never reached the main line."""
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextlib.contextmanager
def stop_on_signals(signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[Caught]:
    """For the `with` block, each of `signals` raises Interrupted(signum) in the main thread (the
    first one only; later ones are noted and ignored); the previous handlers come back after."""
    caught = Caught()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, frame: Any) -> None:
        first = caught.signum is None
        caught.signum = caught.signum or signum
        if first:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield caught
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
