"""The Task agent's check of each specialist's spec JSON."""

from __future__ import annotations

from trainer_agent.agents.spec_check import check_specialist_message, extract_json

GOOD_TRAIN = '{"family": "tfidf-logreg", "params": 10, "size_bytes": 100, "model_path": "m.joblib"}'


def test_extracts_the_last_fenced_block_or_the_trailing_object() -> None:
    assert extract_json('text ```json\n{"a": 1}\n``` more ```json\n{"b": 2}\n```') == {"b": 2}
    assert extract_json('Trained it. {"a": 1}') == {"a": 1}


def test_valid_spec_passes() -> None:
    assert check_specialist_message("model_agent", f"Trained.\n```json\n{GOOD_TRAIN}\n```") is None


def test_missing_json_is_named() -> None:
    problem = check_specialist_message("model_agent", "Trained a fine model.")
    assert problem and "TrainResult" in problem and "JSON" in problem


def test_malformed_json_is_named() -> None:
    problem = check_specialist_message("data_agent", '```json\n{"train_path": "a",}\n```')
    assert problem and "DataReport" in problem


def test_schema_error_names_the_field() -> None:
    bad = GOOD_TRAIN.replace('"params": 10', '"params": "many"')
    problem = check_specialist_message("model_agent", f"```json\n{bad}\n```")
    assert problem and "params" in problem


def test_hub_and_user_messages_are_not_checked() -> None:
    assert check_specialist_message("task_agent", "anything") is None
