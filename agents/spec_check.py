"""Validate the spec JSON that ends each specialist's turn.

A specialist's last message carries its spec as JSON (a ```json block, or the last {...} in the
text). The Task agent checks it against the pydantic contract; a bad one is sent back with the
validation error, at most MAX_SPEC_RETRIES times.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from trainer_agent.agents.json_repair import last_object
from trainer_agent.skills.specs import DataReport, ServerReport, TrainResult

MAX_SPEC_RETRIES = 2
SPEC_OF: dict[str, type[BaseModel]] = {
    "data_agent": DataReport,
    "model_agent": TrainResult,
    "server_agent": ServerReport,
}


def extract_json(text: str) -> Any:
    """The JSON object a message carries: the last fenced block, else the last {...} in the text.

    LLM slips are repaired first (code fences, trailing commas, single quotes, Python literals:
    see agents.json_repair); what cannot be repaired raises ValueError.
    """

    return last_object(text)[0]


def check_specialist_message(agent: str, content: Any) -> str | None:
    """None when the message carries a valid spec for `agent`, else a sentence saying what is wrong."""
    model = SPEC_OF.get(agent)
    if model is None:
        return None
    name = model.__name__
    try:
        model.model_validate(extract_json(content if isinstance(content, str) else ""))
    except ValidationError as err:  # before ValueError: pydantic's error is a ValueError too
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        return f"{agent}: your {name} JSON is invalid at {where}: {first['msg']}."
    except ValueError as err:  # includes json.JSONDecodeError
        return f"{agent}: your message must end with your {name} as JSON ({err})."
    return None
