"""The person in the group chat (`trainer-agent chat`): the `user` proxy hands them the floor when
the Task agent names `NEXT: user`, and the offline Task agent reads what they answer.

In a chat the Task agent, instead of ending with a report, asks for what is missing (data, more
labels, the label, a metric) and waits; shows the plan and waits for approval before any work;
and after the report asks whether anything should change. What the person types is read as:

- a path to an existing file: new data (a second path: new test data); the request is read again;
- `go on` / `yes`: carry on (with too few labels: train on what there is);
- `quit` / `stop`: stop (work left undone can be resumed with `trainer-agent resume`);
- anything else: a change to the request ("make it under 5M parameters"): the request is read
  again with it, a later requirement replacing an earlier one of the same measure, and only the
  steps the change affects are done again (recorded as `redo` events in the transcript).

Chat state lives in `run.state["chat"]`. With no person attached (batch runs, `resume`), nothing
here acts and the Task agent behaves as it does in `trainer-agent run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer_agent.agents import approvals, review, routing, summaries
from trainer_agent.agents.brains.next_step import next_work
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.spec_check import check_specialist_message
from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.pipeline import NAMES, from_step, tool_for
from trainer_agent.skills.report import fmt_value
from trainer_agent.skills.specs import Requirement, TaskSpec
from trainer_agent.skills.task.plan import estimate, make_plan

SERVING_ONLY = frozenset({"qps", "memory_mb"})  # measured on the service; the model stays as it is
DEFINING = ("task_type", "label_column", "text_column", "feature_columns")
_QUIT = {"quit", "stop", "exit", "q", "abort", "cancel", "bye"}
_GO_ON = {"go on", "go", "yes", "y", "ok", "okay", "continue", "carry on", "proceed", "go ahead", "sure"}
_DONE = {"", "no", "n", "nothing", "done", "finish", "thanks", "thank you", "no thanks"}
_CODE_FENCES = ("```python", "```py", "```sh", "```bash", "```shell")


@dataclass
class Turn:
    """What the Task agent says next in a chat: text, a tool call, or both."""

    text: str | None = None
    tool: str | None = None


def chat_state(run: Run) -> dict[str, Any]:
    state: dict[str, Any] = run.state.setdefault("chat", {})
    return state


def present(run: Run) -> bool:
    return approvals.person_for(run) is not None


# -- the user proxy's side ------------------------------------------------------------------------
def register_reply(user: Any, run: Run) -> None:
    """Let the `user` proxy answer with the person's words when the Task agent names `NEXT: user`.

    Without a person attached to the run this reply never fires, and the proxy keeps its usual
    behaviour (executing tools and code, an empty auto-reply otherwise).
    """
    from autogen import Agent

    def reply(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        person = approvals.person_for(run)
        last = messages[-1] if messages else {}
        content = str(last.get("content") or "")
        if (
            person is None
            or last.get("name") != routing.HUB
            or last.get("tool_calls")
            or routing.named_next(content) != routing.EXECUTOR
            or any(fence in content for fence in _CODE_FENCES)
        ):
            return False, None
        return True, answer(run, person)

    user.register_reply([Agent, None], reply, position=0)


def answer(run: Run, person: approvals.Person) -> str:
    """The person's words for the chat: something typed during the work, the plan's approval, or a
    reply to the Task agent's question (`quit` when input has ended)."""
    pending: list[str] | None = getattr(person, "pending", None)
    if pending:
        return pending.pop(0)
    chat = chat_state(run)
    if chat.get("awaiting") == "plan":
        decision = approvals.ask(run, "plan", _plan_description(run), params={"change": ""})
        change = str((decision.params or {}).get("change") or "").strip() if decision.granted else ""
        chat["plan_answer"] = {"granted": decision.granted, "by": decision.by, "change": change}
        run.save()
        return change or ("approve" if decision.granted else "deny")
    try:
        return person.prompt("you> ").strip()
    except EOFError:
        return "quit"


def _plan_description(run: Run) -> str:
    seconds = (run.result("parse") or {}).get("estimate", {}).get("seconds")
    eta = f", about {seconds:.0f} s" if seconds else ""
    return f"the plan above (data, training, export and service{eta})"


# -- the Task agent's side ------------------------------------------------------------------------
def task_turn(run: Run, messages: list[dict[str, Any]]) -> Turn | None:
    """The Task agent's next move when a person is in the chat, or None to follow the usual SOP."""
    person = approvals.person_for(run)
    if person is None or not run.done("parse"):
        return None
    chat = chat_state(run)
    last = messages[-1] if messages else {}
    is_result = bool(last.get("tool_responses")) or last.get("role") == "tool"
    if chat.get("awaiting") and len(messages) > 1 and last.get("name") == routing.EXECUTOR and not is_result:
        awaiting = chat.pop("awaiting")
        run.save()
        return _understand(run, awaiting, str(last.get("content") or "").strip(), messages)
    if "before" in chat:  # the request was read again after a change: redo what it affects
        note = _redo_affected(run, chat.pop("before"), bool(chat.pop("data_changed", False)))
        return _carry_on(run, messages, note)
    if (
        last.get("name") in routing.SPECIALISTS
        and not last.get("tool_calls")
        and check_specialist_message(last["name"], last.get("content"))
    ):
        return None  # the usual SOP sends an invalid spec back first
    if chat.get("closed"):
        return None
    spec = run.result("parse")
    if getattr(person, "pending", None):
        chat["awaiting"] = "change"
        run.save()
        return Turn(text="You typed something while the agents worked; over to you.\nNEXT: user")
    if spec["decision"] != "accept" and not run.done("report"):
        if spec["decision"] == "ask" and chat.get("go_on") and run.done("data"):
            accept_anyway(run)
            return _carry_on(run, messages, "Too few labels after cleaning; going on as you said.")
        if spec["decision"] == "refuse":
            return None  # nothing the person can add changes a refusal: report it
        return _ask(run, spec)
    gate = spec["decision"] == "accept" and not run.done("data") and not chat.get("plan_ok")
    if gate and approvals.rule_for(run.options.approve, "plan")[0] == "approve":
        approvals.ask(run, "plan", _plan_description(run))  # approved by the policy; recorded as such
        chat["plan_ok"] = True
        run.save()
    elif gate:
        chat["awaiting"] = "plan"
        run.save()
        plan = summaries.handoff(run, "data").rsplit("\n", 1)[0]
        return Turn(text=f"{plan}\nApprove this plan? (approve / deny / edit / explain)\nNEXT: user")
    if run.done("report") and spec["decision"] == "accept":
        chat["awaiting"] = "anything_else"
        run.save()
        return Turn(
            text=summaries.final_summary(run) + "\nAnything to change? Type a change to the requirements "
            "(only the steps it affects run again), or press Enter to finish.\nNEXT: user"
        )
    return None


def _ask(run: Run, spec: dict[str, Any]) -> Turn:
    chat = chat_state(run)
    lines = [f"I cannot start yet ({spec['decision']})."]
    lines += [f"- {r}" for r in spec.get("reasons", [])]
    if spec["decision"] == "infeasible":
        proposal = [_fmt(Requirement.model_validate(r)) for r in spec.get("proposal", [])]
        if proposal:
            lines.append("I could do: " + ", ".join(proposal) + ".")
        lines.append("Type a change to the requirements, a path to other data, or 'quit'.")
        chat["awaiting"] = "change"
    elif not run.options.data:
        lines.append(
            "Which data should I learn from? Give a path to a CSV, TSV, JSONL or Parquet file with the "
            "label column (a second path: the test file), or 'quit'."
        )
        chat["awaiting"] = "data"
    else:
        lines += [f"? {q}" for q in spec.get("questions", [])]
        if spec.get("label_column"):
            lines.append(
                "Give a path to more labelled data, answer in plain words, type 'go on' to train on what "
                "there is, or 'quit'."
            )
        else:
            lines.append("Answer in plain words, give a path to other data, or 'quit'.")
        chat["awaiting"] = "question"
    run.save()
    return Turn(text="\n".join(lines) + "\nNEXT: user")


def _understand(run: Run, awaiting: str, text: str, messages: list[dict[str, Any]]) -> Turn:
    chat = chat_state(run)
    if awaiting == "plan":
        said = chat.pop("plan_answer", {})
        if said.get("granted") and not said.get("change"):
            chat["plan_ok"] = True
            run.save()
            first = summaries.handoff(run, "data").rsplit("\n", 1)[-1]  # the plan is on screen already
            return Turn(text=f"Plan approved. {first}\nNEXT: data_agent")
        if said.get("change"):
            return _change(run, said["change"])
        if str(said.get("by", "")).startswith("policy"):
            return _stop(run, f"The plan was not approved ({said['by']}).")
        chat["awaiting"] = "change"
        run.save()
        return Turn(
            text="The plan was not approved. What should change? Type a change to the requirements, a "
            "path to other data, or 'quit'.\nNEXT: user"
        )
    lowered = text.lower().strip(" .!")
    if awaiting == "review" and (turn := _review_answer(run, lowered, messages)) is not None:
        return turn
    if lowered in _QUIT:
        return _stop(run, "Stopping at your request.")
    paths, missing = _paths_in(text)
    if paths:
        return _new_data(run, paths)
    if missing:
        chat["awaiting"] = awaiting
        run.save()
        return Turn(
            text=f"I cannot find the file '{missing}'. Give the path of an existing file, or 'quit'."
            "\nNEXT: user"
        )
    if awaiting == "anything_else" and (lowered in _DONE or lowered in _GO_ON):
        chat["closed"] = True
        run.save()
        return Turn(text=f"Finished. Report: {run.run_dir / 'report.md'}\n{routing.TERMINATE}")
    if lowered in _GO_ON or lowered in _DONE:
        spec = run.result("parse")
        if spec["decision"] == "accept":
            return _carry_on(run, messages, "Going on.")
        if lowered in _GO_ON and spec["decision"] == "ask" and run.options.data and spec.get("label_column"):
            accept_anyway(run)
            return _carry_on(run, messages, "Going on with the data as it is, as you said.")
        chat["awaiting"] = awaiting
        run.save()
        return Turn(
            text="I still need an answer to go on: see my question above, or type 'quit'.\nNEXT: user"
        )
    return _change(run, text)


_TRY = {"try", "t", "try it", "try harder", "again", "retry", "try again"}


def _review_answer(run: Run, lowered: str, messages: list[dict[str, Any]]) -> Turn | None:
    """The person's answer to a review of an unmet target (`agents.review`): try the remedy, or
    accept what was reached; None for the answers read as usual (data, a change, quit)."""

    if lowered in _TRY:
        if review.accept_offer(run):
            return Turn(text="Trying it.\nNEXT: model_agent")
        chat_state(run)["awaiting"] = "review"
        run.save()
        return Turn(
            text="There is no other experiment to try: give a path to more data, change the target, "
            "or type 'go on'.\nNEXT: user"
        )
    if lowered in _GO_ON or lowered in _DONE:
        review.accept_reached(run)
        return _carry_on(run, messages, "Going on with the best model reached.")
    return None


def _paths_in(text: str) -> tuple[list[str], str | None]:
    """Existing files named in the answer, and the first path-like word that does not exist."""
    found, missing = [], None
    for word in text.split():
        word = word.strip("'\"`,;")
        if not word:
            continue
        path = Path(word).expanduser()
        if path.is_file():
            found.append(str(path.resolve()))
        elif missing is None and (
            "/" in word or path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".parquet")
        ):
            missing = word
    return found, (missing if not found else None)


def _carry_on(run: Run, messages: list[dict[str, Any]], note: str) -> Turn:
    """`note`, then whatever comes next: another question or gate, or the next step of the plan."""

    turn = task_turn(run, messages)
    if turn is None:
        action = next_work(run)
        turn = Turn(text=action.text, tool=action.tool)
    if note:
        turn.text = note + ("\n" + turn.text if turn.text else "")
    return turn


def _stop(run: Run, why: str) -> Turn:
    chat = chat_state(run)
    chat["closed"] = True
    spec = run.result("parse")
    if spec["decision"] != "accept" and not run.done("report"):
        run.save()
        return Turn(text=f"{why} Writing the report with what is still open.", tool=tool_for("report"))
    if not run.done("report"):
        chat["stopped"] = True
        why += f" The run can go on later: trainer-agent resume {run.run_dir}"
    run.save()
    return Turn(text=f"{why}\n{routing.TERMINATE}")


def _set_request(run: Run, request: str) -> None:
    run.options.request = run.state["options"]["request"] = request
    (run.run_dir / "request.txt").write_text(request + "\n", encoding="utf-8")


def _change(run: Run, text: str) -> Turn:
    chat = chat_state(run)
    chat.setdefault("changes", []).append(text)
    chat["before"] = run.result("parse")
    _set_request(run, run.options.request.rstrip() + "\n" + text)
    run.transcript.event("request_changed", change=text, by=approvals.BY_PERSON)
    redo(run, ["parse"], f"the person changed the request: {text}")
    return Turn(text=f'Noted: "{text}". Reading the request again with it.', tool=tool_for("parse"))


def _new_data(run: Run, paths: list[str]) -> Turn:
    chat = chat_state(run)
    before = {"previous_data": run.options.data, "previous_test_data": run.options.test_data}
    run.options.data = run.state["options"]["data"] = paths[0]
    if len(paths) > 1:
        run.options.test_data = run.state["options"]["test_data"] = paths[1]
    chat["before"] = run.result("parse")
    chat["data_changed"] = True
    run.transcript.event(
        "data_changed", data=paths[0], test_data=run.options.test_data, by=approvals.BY_PERSON, **before
    )
    redo(run, ["parse"], f"the person gave new data: {', '.join(paths)}")
    return Turn(text=f"Using the data in {paths[0]}. Reading the request against it.", tool=tool_for("parse"))


def apply_recorded(run: Run, event: dict[str, Any]) -> None:
    """Replaying a chat: do again what a recorded event says the person's words did (the replay
    brain calls this at the same point of the conversation; see `agents.brains.replay`)."""
    kind = event.get("event")
    if kind == "request_changed":
        chat_state(run).setdefault("changes", []).append(event["change"])
        _set_request(run, run.options.request.rstrip() + "\n" + event["change"])
        run.transcript.event("request_changed", change=event["change"], by=f"replay of: {event.get('by')}")
    elif kind == "data_changed":
        run.options.data = run.state["options"]["data"] = event.get("data")
        run.options.test_data = run.state["options"]["test_data"] = event.get("test_data")
        run.transcript.event("data_changed", data=event.get("data"), test_data=event.get("test_data"))
    elif kind == "redo":
        redo(run, list(event.get("steps") or []), f"replay of: {event.get('reason')}")
    elif kind == "go_on":
        accept_anyway(run)
    run.save()


def initial_options(options: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat's options as they were before the person changed them (the state keeps the last):
    the request without the changes appended to it, the data before the first new data."""
    out = dict(options)
    request = str(out.get("request", ""))
    for change in reversed([r["change"] for r in records if r.get("event") == "request_changed"]):
        if request.endswith("\n" + change):
            request = request[: -len(change) - 1]
    out["request"] = request
    first = next((r for r in records if r.get("event") == "data_changed"), None)
    if first is not None and "previous_data" in first:
        out["data"], out["test_data"] = first["previous_data"], first.get("previous_test_data")
    return out


def redo(run: Run, steps: list[str], reason: str) -> None:
    """Forget the results of `steps` so they run again; recorded as a `redo` event."""
    for step in steps:
        run.state["steps"].pop(step, None)
        run.state["durations"].pop(step, None)
    run.save()
    run.transcript.event("redo", steps=steps, reason=reason)


def affected_steps(before: dict[str, Any], after: dict[str, Any], data_changed: bool = False) -> list[str]:
    """The steps after `parse` that a change of the TaskSpec (or of the data) makes stale, in
    pipeline order: the step the change starts at and every step that needs it (`skills.pipeline`).

    New data, task, label or columns: everything from the data step; a changed metric target or
    model constraint: from training; only the service's throughput or memory: from the service.
    The report always follows.
    """
    if data_changed or any(before.get(k) != after.get(k) for k in DEFINING):
        return list(from_step("data"))
    old = {_key(r): r for r in before.get("requirements", [])}
    new = {_key(r): r for r in after.get("requirements", [])}
    changed = {k[0] for k in old.keys() ^ new.keys()}
    changed |= {
        k[0]
        for k in old.keys() & new.keys()
        if (old[k]["op"], old[k]["target"]) != (new[k]["op"], new[k]["target"])
    }
    if not changed:
        return ["report"] if before.get("decision") != after.get("decision") else []
    return list(from_step("serve" if changed <= SERVING_ONLY else "train"))


def _key(req: dict[str, Any]) -> tuple[str, str | None, bool]:
    return req["name"], req.get("label"), req["op"] in (">=", ">")


def _redo_affected(run: Run, before: dict[str, Any], data_changed: bool) -> str:
    after = run.result("parse")
    stale = [s for s in affected_steps(before, after, data_changed) if s in run.state["steps"]]
    if not stale:
        return ""
    redo(run, stale, "the change affects them")
    kept = [s for s in NAMES if s != "parse" and s in run.state["steps"]]
    return f"The change affects: {', '.join(stale)} (they run again)" + (
        f"; kept as they are: {', '.join(kept)}." if kept else "."
    )


def latest_requirements(task: TaskSpec) -> TaskSpec:
    """A later requirement on the same measure (and class, and direction) replaces an earlier one:
    "under 1M parameters ... make it under 5M parameters" keeps params < 5M."""
    latest: dict[tuple[str, str | None, bool], Requirement] = {}
    for req in task.requirements:
        latest.pop(_key(req.model_dump()), None)
        latest[_key(req.model_dump())] = req
    return task.model_copy(update={"requirements": list(latest.values())})


def accept_anyway(run: Run) -> None:
    """The person said 'go on' to a request that lacks labels: accept it, with an estimate and a plan."""

    spec = TaskSpec.model_validate(run.result("parse"))
    spec.decision = "accept"
    spec.reasons, spec.questions, spec.proposal = [], [], []
    rows, classes = _rows_and_classes(run, spec)
    spec.estimate = estimate(
        spec,
        n_rows=rows,
        n_features=max(1, len(spec.feature_columns)),
        n_classes=classes,
        budget_min=run.options.budget_min,
        max_trials=run.options.max_trials,
        max_epochs=run.options.max_epochs,
    )
    spec.plan = make_plan(spec, spec.estimate)
    run.state["steps"]["parse"]["result"] = spec.model_dump(mode="json")
    (run.run_dir / "spec.json").write_text(spec.model_dump_json(indent=2), encoding="utf-8")
    chat_state(run)["go_on"] = True
    run.save()
    run.transcript.event(
        "go_on", by=approvals.BY_PERSON, note="accepted with too few labels at the person's word"
    )


def _rows_and_classes(run: Run, spec: TaskSpec) -> tuple[int, int]:
    if run.done("data"):
        data = run.result("data")
        return int(data.get("n_train", 0)) + int(data.get("n_test", 0)), max(
            2, len(data.get("label_counts", {}))
        )

    assert run.options.data is not None
    df = load_table(run.options.data)
    classes = int(df[spec.label_column].nunique()) if spec.label_column in df.columns else 2
    return len(df), max(2, classes)


def _fmt(req: Requirement) -> str:

    return f"{req.key} {req.op} {fmt_value(req.target)}"
