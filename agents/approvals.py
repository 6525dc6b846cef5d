"""Approval of risky or costly steps by the person (the `user` proxy's job), under a policy.

Policies (`--approve`): `auto` approves every step (batch runs) except catalog data that records no
licence (`NEEDS_PERSON`); `ask` asks the person, and
denies when there is nobody to ask; `never` denies every risky step; a policy file (or `policy`
for configs/policy.yaml) says per step kind `approve`, `deny` or `ask`, under `approvals:`.

    decision = ask(run, "start_service", "start a web service on 127.0.0.1", params={"port": 8000})
    if decision.granted: start(port=decision.params["port"])    # the person may have edited it
    if approve(run, "execute_code", "run 1 code block"): ...      # the yes/no form

The person answers approve / deny / edit (change a parameter, returned to the caller) / explain
(why the step is risky, then the question again). Every decision is one transcript record:
`{"type": "approval", "kind", "description", "decision": "approve"|"deny", "by"}` (plus `params`
and `edited` after an edit), `by` naming who or what decided.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from trainer_agent.agents.run_state import Run
from trainer_agent.skills.errors import UserError

POLICIES = ("auto", "ask", "never")
RULES = ("approve", "deny", "ask")

# Why each kind of step needs a person's yes: what `explain` prints.
WHY: dict[str, str] = {
    "plan": "Approving the plan starts the work: the agents clean your data, train, export and test a "
    "model, using about the time estimated above. Nothing has run yet; 'edit' changes the "
    "requirements first and the plan is made again.",
    "execute_code": "The code was written by a language model, not by this program: it may be wrong or "
    "do something nobody asked for. It runs in the sandbox (no network by default, limited memory, "
    "processes and time), but the local sandbox can read your files.",
    "sandbox_network": "With network access, code in the sandbox can download packages or data and send "
    "data out of this machine; without it, nothing leaves.",
    "label_corrections": "Relabelling changes the labels the model is fitted on: rows whose labels look "
    "wrong get the label a quick model predicts. You are asked only when that won a trial scored on "
    "your own labels (the numbers are in the question); where the quick model is wrong, good labels "
    "are still lost. Your training file keeps your labels, every score is computed on them, and each "
    "change is listed in data/label_corrections.csv.",
    "catalog_data": "Adding a catalog data set puts rows you did not give into the training data: "
    "the model learns from their labels too. You are asked only when the rows won a trial scored on "
    "your own rows and labels (the numbers are in the question), after rows that copy one of your test "
    "or training rows were left out; your test set is unchanged, and the rows added are listed in "
    "data/catalog_rows.csv. Check that the source and licence allow this use.",
    "paid_annotation": "Labelling rows with a paid LLM costs money for every row and sends the rows' "
    "text to the LLM provider.",
    "over_budget": "Training beyond the budget spends more time and compute (and, with a paid LLM or "
    "cloud GPUs, more money) than the plan allowed.",
    "start_service": "Starting the service opens a port on this machine: other programs on it can send "
    "requests to the model while it runs.",
    "expose_service": "Exposing the service makes it reachable from other machines: anyone who can reach "
    "the port can use the model (an API key protects it only if one is set).",
    "build_image": "Building an image downloads packages and takes minutes of CPU and gigabytes of disk.",
}
WHY["relabel"] = WHY["label_corrections"]  # the Data agent's name for the same step
WHY["catalog_data_unlicensed"] = (
    WHY["catalog_data"] + " This data set records no licence: under --approve auto it is not added."
)
SAFE_KINDS = frozenset({"plan"})  # approved under `never`: not risky in itself
# Refused under `auto`: what nobody recorded the right to use is a person's call, not a batch default.
NEEDS_PERSON = frozenset({"catalog_data_unlicensed"})


class Person(Protocol):
    """Someone who can be asked: the chat's terminal, or plain stdin at a terminal."""

    def say(self, text: str) -> None: ...

    def prompt(self, question: str) -> str:
        """One line typed by the person; EOFError when input has ended."""
        ...


@dataclass
class Decision:
    granted: bool
    params: dict[str, Any] | None
    by: str
    edited: bool = False

    def __bool__(self) -> bool:
        return self.granted


class StdinPerson:
    """A person at the terminal of a batch run (`run --approve ask` typed at a terminal)."""

    def say(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def prompt(self, question: str) -> str:
        return input(question)


# -- who can be asked -----------------------------------------------------------------------------
_people: dict[str, Person] = {}


@contextmanager
def attached(run: Run, person: Person) -> Iterator[None]:
    """Make `person` the one asked for `run` (approvals, and the Task agent's questions in chat)."""
    _people[str(run.run_dir)] = person
    try:
        yield
    finally:
        _people.pop(str(run.run_dir), None)


_replayed: dict[str, list[dict[str, Any]]] = {}


@contextmanager
def replaying(run: Run, records: list[dict[str, Any]]) -> Iterator[None]:
    """Answer `run`'s approvals as a recording did (its `approval` records, in order per kind):
    replaying a chat gives the same decisions the person made."""
    _replayed[str(run.run_dir)] = [r for r in records if r.get("type") == "approval"]
    try:
        yield
    finally:
        _replayed.pop(str(run.run_dir), None)


def _recorded_decision(run: Run, kind: str, params: dict[str, Any] | None) -> Decision | None:
    queue = _replayed.get(str(run.run_dir))
    found = next((r for r in queue or [] if r.get("kind") == kind), None)
    if queue is None or found is None:
        return None
    queue.remove(found)
    return Decision(
        found.get("decision") == "approve", found.get("params", params), f"replay of: {found.get('by')}"
    )


def person_for(run: Run) -> Person | None:
    """The person attached to the run by `chat`, if any (batch runs have none)."""
    return _people.get(str(run.run_dir))


# -- policies -------------------------------------------------------------------------------------
def bundled_policy() -> Path:

    return Path(str(resources.files("trainer_agent.configs").joinpath("policy.yaml")))


def load_rules(path: str | Path) -> dict[str, str]:
    """The `approvals:` section of a policy file: step kind -> approve | deny | ask (and `default`)."""
    import yaml

    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise UserError(f"cannot read the approval policy '{p}': {err.strerror}.") from None
    except yaml.YAMLError as err:
        raise UserError(f"the approval policy '{p}' is not valid YAML: {str(err).splitlines()[0]}.") from None
    section = doc.get("approvals") if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        raise UserError(f"the approval policy '{p}' has no 'approvals:' mapping of step kinds to rules.")
    rules = {str(k): str(v).strip().lower() for k, v in section.items()}
    for kind, rule in rules.items():
        if rule not in RULES:
            raise UserError(
                f"the approval policy '{p}' says '{kind}: {rule}'; each rule must be approve, deny or ask."
            )
    return rules


def check_policy(value: str) -> str:
    """`--approve` as stored on the run: auto, ask, never, or the absolute path of a valid policy file."""
    if value in POLICIES:
        return value
    path = bundled_policy() if value == "policy" else Path(value).expanduser()
    if not path.is_file():
        raise UserError(
            f"--approve must be auto, ask, never, policy or a policy file; '{value}' is none of these."
        )
    load_rules(path)
    return str(path.resolve())


def rule_for(policy: str, kind: str) -> tuple[str, str]:
    """(approve | deny | ask, who decided) for a step kind under a policy."""
    if policy == "auto":
        if kind in NEEDS_PERSON:
            return "deny", "policy: --approve auto (no licence is recorded; a person must approve)"
        return "approve", "policy: --approve auto"
    if policy == "never":
        if kind in SAFE_KINDS:
            return "approve", "policy: --approve never (not a risky step)"
        return "deny", "policy: --approve never"
    if policy == "ask":
        return "ask", "person at the terminal"
    rules = load_rules(policy)
    if kind in rules:
        return rules[kind], f"policy file {policy}: {kind}: {rules[kind]}"
    default = rules.get("default", "ask")
    return default, f"policy file {policy}: default: {default}"


# -- asking ---------------------------------------------------------------------------------------
def ask(run: Run, kind: str, description: str, params: dict[str, Any] | None = None) -> Decision:
    """Decide whether the step `kind` (described for the person) may run; record the decision.

    `params` are the step's settings the person may edit; the decision carries them back (edited
    or not). Under `ask` without anyone to ask, the step is denied.
    """
    rule, by = rule_for(run.options.approve, kind)
    recorded = _recorded_decision(run, kind, params)
    if recorded is not None:
        decision = recorded
    elif rule == "ask":
        person = person_for(run) or (StdinPerson() if sys.stdin is not None and sys.stdin.isatty() else None)
        if person is None:
            who = "--approve ask" if run.options.approve == "ask" else f"policy file {run.options.approve}"
            decision = Decision(False, params, f"policy: {who}, but no terminal to ask")
        else:
            decision = dialogue(person, kind, description, params)
            if by.startswith("policy file"):
                decision.by += f" (asked by {by})"
    else:
        decision = Decision(rule == "approve", params, by)
    record: dict[str, Any] = {
        "type": "approval",
        "kind": kind,
        "description": description,
        "decision": "approve" if decision.granted else "deny",
        "by": decision.by,
    }
    if decision.edited:
        record |= {"params": decision.params, "edited": True}
    run.transcript.write(record)
    return decision


def ask_here(policy: str, kind: str, description: str) -> Decision:
    """`ask` for a command that belongs to no run (e.g. `data annotate --llm`): the same policies and
    dialogue, at this process's terminal; the caller reports the decision."""
    rule, by = rule_for(check_policy(policy), kind)
    if rule != "ask":
        return Decision(rule == "approve", None, by)
    if sys.stdin is None or not sys.stdin.isatty():
        return Decision(False, None, f"policy: {by}, but no terminal to ask")
    return dialogue(StdinPerson(), kind, description, None)


def approve(run: Run, kind: str, description: str) -> bool:
    """`ask` without parameters, as a yes or no."""
    return ask(run, kind, description).granted


_APPROVE = {"a", "approve", "approved", "y", "yes", "ok", "okay", "go", "go on", "sure"}
_DENY = {"d", "deny", "denied", "n", "no", "stop", "quit", "q"}
_EDIT = {"e", "edit", "change"}
_EXPLAIN = {"x", "explain", "why", "?", "help"}
BY_PERSON = "person at the terminal"


def dialogue(person: Person, kind: str, description: str, params: dict[str, Any] | None) -> Decision:
    """Ask until the person approves, denies or edits; `explain` shows why, then asks again."""
    shown = f" with {_fmt(params)}" if params and any(v not in ("", None) for v in params.values()) else ""
    person.say(f"Approve: {description}{shown}?")
    while True:
        try:
            answer = person.prompt("approve / deny / edit / explain [a/d/e/x]: ").strip().lower()
        except EOFError:
            return Decision(False, params, BY_PERSON + " (input ended)")
        if answer in _APPROVE:
            return Decision(True, params, BY_PERSON)
        if answer in _DENY:
            return Decision(False, params, BY_PERSON)
        if answer in _EXPLAIN:
            person.say(WHY.get(kind, f"'{kind}' is a step that changes data, costs money or opens access."))
            continue
        if answer in _EDIT:
            if not params:
                person.say("This step has nothing to edit: approve or deny it.")
                continue
            try:
                edited = edit_params(person, params)
            except EOFError:
                return Decision(False, params, BY_PERSON + " (input ended)")
            return Decision(True, edited, BY_PERSON, edited=edited != params)
        person.say("Please answer approve, deny, edit or explain.")


def edit_params(person: Person, params: dict[str, Any]) -> dict[str, Any]:
    """Ask for each parameter in turn (Enter keeps it); values keep their type."""
    out = dict(params)
    for key, value in params.items():
        while True:
            shown = f" (now {value!r}, Enter keeps it)" if value not in ("", None) else ""
            typed = person.prompt(f"{key}{shown}: ").strip()
            if not typed:
                break
            try:
                out[key] = _coerce(typed, value)
                break
            except ValueError:
                person.say(f"'{typed}' is not a {type(value).__name__}; try again.")
    return out


def _coerce(typed: str, like: Any) -> Any:
    if isinstance(like, bool):
        if typed.lower() in ("y", "yes", "true", "1", "on"):
            return True
        if typed.lower() in ("n", "no", "false", "0", "off"):
            return False
        raise ValueError(typed)
    if isinstance(like, int):
        return int(typed.replace(",", "").replace("_", ""))
    if isinstance(like, float):
        return float(typed.replace(",", "").replace("_", ""))
    return typed


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items() if v not in ("", None))
