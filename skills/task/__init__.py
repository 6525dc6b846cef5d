"""The Task agent's skills: reading the request (requirements, task type), judging it (ethics,
feasibility, triage) and the plan with its estimate."""
