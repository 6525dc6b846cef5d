"""`python -m trainer_agent.agents.cli ...` is `trainer-agent ...`."""

from trainer_agent.agents.cli.main import main

main()
