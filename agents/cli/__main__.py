"""`python -m agents.cli ...` is `trainer-agent ...`."""

from agents.cli.main import main

main()
