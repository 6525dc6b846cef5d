"""Approvals of risky steps: the auto, never, ask and policy-file policies, the person's approve /
deny / edit / explain, and the transcript record of who decided."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from trainer_agent.agents.approvals import WHY, approve, ask, attached, bundled_policy, check_policy, rule_for
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.skills.errors import UserError


class ScriptedPerson:
    """Answers from a script, and keeps what it was told."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.heard: list[str] = []

    def say(self, text: str) -> None:
        self.heard.append(text)

    def prompt(self, question: str) -> str:
        self.heard.append(question)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)


def _run(tmp_path: Path, approve_policy: str) -> Run:
    return Run.create(tmp_path, RunOptions(request="classify reviews", approve=approve_policy))


def _approvals(run: Run) -> list[dict]:
    return [r for r in run.transcript.records() if r["type"] == "approval"]


def test_auto_approves_everything_and_never_denies_risky_steps(tmp_path: Path) -> None:
    auto = _run(tmp_path, "auto")
    assert approve(auto, "execute_code", "run 1 code block") is True
    never = _run(tmp_path, "never")
    assert approve(never, "start_service", "start a web service") is False
    assert approve(never, "plan", "the plan") is True  # not risky in itself
    (granted,) = _approvals(auto)
    assert granted == {
        "ts": granted["ts"],
        "type": "approval",
        "kind": "execute_code",
        "description": "run 1 code block",
        "decision": "approve",
        "by": "policy: --approve auto",
    }
    denied, plan = _approvals(never)
    assert denied["decision"] == "deny" and denied["by"] == "policy: --approve never"
    assert plan["decision"] == "approve" and "not a risky step" in plan["by"]


def test_ask_without_a_terminal_denies_and_says_why(tmp_path: Path) -> None:
    run = _run(tmp_path, "ask")
    decision = ask(run, "sandbox_network", "give sandbox jobs network access", params={"hosts": "pypi.org"})
    assert not decision.granted and decision.params == {"hosts": "pypi.org"}
    (record,) = _approvals(run)
    assert record["decision"] == "deny" and record["by"] == "policy: --approve ask, but no terminal to ask"


def test_a_policy_file_decides_per_step_kind(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "approvals:\n  default: deny\n  start_service: approve\n  relabel: ask\n", encoding="utf-8"
    )
    run = _run(tmp_path, check_policy(str(policy)))
    assert run.options.approve == str(policy.resolve())
    assert approve(run, "start_service", "start a web service") is True
    assert approve(run, "build_image", "build the sandbox image") is False  # the default
    assert approve(run, "relabel", "relabel 9 rows") is False  # ask, but nobody to ask
    with attached(run, ScriptedPerson("y")):
        assert approve(run, "relabel", "relabel 9 rows") is True
    by = [r["by"] for r in _approvals(run)]
    assert by[0] == f"policy file {policy.resolve()}: start_service: approve"
    assert by[1] == f"policy file {policy.resolve()}: default: deny"
    assert by[2] == f"policy: policy file {policy.resolve()}, but no terminal to ask"
    assert by[3].startswith("person at the terminal (asked by policy file")
    # The bundled policy: `--approve policy`.
    assert check_policy("policy") == str(bundled_policy().resolve())
    assert rule_for(check_policy("policy"), "start_service")[0] == "approve"
    assert rule_for(check_policy("policy"), "execute_code")[0] == "ask"


def test_bad_policies_are_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="'bogus' is none of these"):
        check_policy("bogus")
    wrong_rule = tmp_path / "wrong.yaml"
    wrong_rule.write_text("approvals:\n  start_service: maybe\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"wrong\.yaml.*start_service: maybe"):
        check_policy(str(wrong_rule))
    no_section = tmp_path / "none.yaml"
    no_section.write_text("ethics: {}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"none\.yaml.*approvals"):
        check_policy(str(no_section))


def test_the_person_asks_why_edits_a_parameter_and_the_caller_gets_it(tmp_path: Path) -> None:
    run = _run(tmp_path, "ask")
    person = ScriptedPerson("explain", "edit", "lots", "9000", "")
    with attached(run, person):
        decision = ask(
            run, "start_service", "start a web service", params={"port": 8000, "host": "127.0.0.1"}
        )
    assert decision.granted and decision.edited
    assert decision.params == {"port": 9000, "host": "127.0.0.1"}  # typed as int; Enter kept the host
    assert WHY["start_service"] in person.heard  # explain, then the question again
    assert any("'lots' is not a int" in line for line in person.heard)
    (record,) = _approvals(run)
    assert record["decision"] == "approve" and record["by"] == "person at the terminal"
    assert record["params"] == {"port": 9000, "host": "127.0.0.1"} and record["edited"] is True


def test_the_person_denies_and_ended_input_denies(tmp_path: Path) -> None:
    run = _run(tmp_path, "ask")
    with attached(run, ScriptedPerson("maybe", "d")):
        assert approve(run, "execute_code", "run 1 code block") is False
    with attached(run, ScriptedPerson("edit", "n")):  # nothing to edit: asked again, then denied
        assert approve(run, "paid_annotation", "label 500 rows with gpt-4o") is False
    with attached(run, ScriptedPerson()):
        decision = ask(run, "over_budget", "train 10 more minutes")
    assert not decision.granted and decision.by == "person at the terminal (input ended)"
    assert [r["decision"] for r in _approvals(run)] == ["deny", "deny", "deny"]


@pytest.mark.slow
def test_run_accepts_never_and_a_policy_file_and_refuses_anything_else(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("approvals:\n  default: deny\n", encoding="utf-8")
    for choice in ("never", str(policy)):
        # No data: the Task agent asks for it (exit 2) before any risky step; the policy is kept.
        result = run_cli("run", "classify reviews", "--approve", choice, "--out", str(tmp_path), "--json")
        assert result.code == 2, result.stderr
        state = json.loads((Path(json.loads(result.stdout)["run_dir"]) / "state.json").read_text())
        assert state["options"]["approve"] == (choice if choice == "never" else str(policy.resolve()))
    bad = run_cli("run", "classify reviews", "--approve", "sometimes", "--out", str(tmp_path))
    assert bad.code == 1 and "--approve must be auto, ask, never, policy or a policy file" in bad.stderr


@pytest.mark.slow
def test_training_past_max_minutes_asks_and_a_denial_holds_the_search(
    fine_foods_small, tmp_path: Path
) -> None:
    train, test = fine_foods_small
    result = run_cli(
        "run", "Tell whether a review is great (label score). Accuracy at least 60%.",
        "--data", str(train), "--test-data", str(test), "--max-minutes", "0.1", "--approve", "never",
        "--sandbox", "local", "--no-serve", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    report = json.loads(result.stdout)
    run_dir = Path(report["run_dir"])
    records = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    asked = [r for r in records if r.get("type") == "approval" and r["kind"] == "over_budget"]
    assert [(r["decision"], r["by"]) for r in asked] == [("deny", "policy: --approve never")]
    assert "more than the" in asked[0]["description"] and "left of --max-minutes" in asked[0]["description"]
    state = json.loads((run_dir / "state.json").read_text())
    notes = state["steps"]["train"]["result"]["notes"]
    assert any(n.startswith("Training was held to 0.1 min of model search") for n in notes)
    assert report["model"]["params"] > 0  # one candidate is always tried
