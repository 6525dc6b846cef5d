"""The `trainer-agent` command line: `main` (the app, `run`, `resume`, `demo`, `replay`, `stop`,
`sandbox`), `chat`, `check`, `data`, `models`, `serve` (serve, status, package, loadtest) and
`run_end` (how a command that runs the agents ends: exit codes, one sentence, the finished report).

Each command module imports only typer at import time, so that `trainer-agent --help` answers at once.
"""
