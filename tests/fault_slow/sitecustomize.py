"""Start-up code for the commands tests/test_faults.py kills (Python imports `sitecustomize` from
PYTHONPATH when it starts): the step named by FAULTS_SLOW_STEP waits one second after it is
recorded as running, before its work, as on a slow disk or a busy machine. The report step takes
milliseconds, less than the watcher needs to see it running between two polls of state.json; the
wait gives the fault its moment. The product itself has no hook: this wraps `Run.step` from outside.
"""

import os

_STEP = os.environ.get("FAULTS_SLOW_STEP")
if _STEP:
    import time

    from trainer_agent.agents.run_state import Run

    _step = Run.step

    def _slow_step(self, name, fn, args=None):  # type: ignore[no-untyped-def]
        if name != _STEP:
            return _step(self, name, fn, args)

        def slow():  # type: ignore[no-untyped-def]
            time.sleep(1.0)
            return fn()

        return _step(self, name, slow, args)

    Run.step = _slow_step  # type: ignore[method-assign]
