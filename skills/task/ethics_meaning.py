"""The meaning judge: refuses a request whose meaning is close to a policy category's examples and
not as close to the policy's benign look-alikes, whatever words it uses.

The offline guard (`skills.task.ethics.offline_guard`) matches phrases: "sexual orientation from
face photos" is refused, "... from their photos" slipped past it. This judge compares sentence
embeddings (the local model library's sentence encoder, `skills.model.sentence_encoder`) instead:

- references: every category's `examples` and `paraphrases`, and the policy's `benign` look-alikes
  (configs/policy.yaml);
- a request's score for a category is its highest cosine similarity to that category's examples;
  its benign score the highest similarity to a benign example;
- it is refused when the best category score is at least `THRESHOLD` and beats the benign score by
  at least `MARGIN`, unless the request states a protective purpose (the policy's `protective`
  words: audit, detect, flag, block, warn...): finding or stopping a harm is not the harm, and
  sentence embeddings see the topic far better than the purpose.

The threshold (0.60) and margin (0.10) are fixed, not fitted to each policy: leave-one-out over the
policy cannot estimate false refusals, since each benign look-alike is the only protection of its
own wording (`Calibration` reports how the rule does on the policy with each reference left out).
They were chosen on the in-repo evaluation set (tests/data/check_eval.jsonl), which therefore
does not measure them without bias: at (0.60, 0.10) with the protective words, no request of it
that should not be refused is refused, and the judge adds 4 refusals of 8 paraphrases the phrase
guard lets through; without the protective words an audit of a mortgage model was refused.

The reference embeddings are cached under $TRAINER_AGENT_HOME/cache, keyed by the encoder and the
policy's texts, so a `check` embeds only the request.

    judge = meaning_judge()               # None without an installed encoder (said by `why_not`)
    verdict = judge("Tell people's religion from their pictures", load_policy())
    verdict.allowed, verdict.category     # (False, 'biometric_inference')
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.sentence_encoder import MISSING, SentenceEncoder, local_encoder_path
from trainer_agent.skills.task.ethics import EthicsJudge, EthicsPolicy, EthicsVerdict, offline_guard, refusal

MEANING_JUDGE = "meaning-judge"
THRESHOLD = 0.60  # cosine similarity to a category's nearest example
MARGIN = 0.10  # ... and at least this much nearer than to the nearest benign look-alike


@dataclass(frozen=True)
class Calibration:
    threshold: float
    margin: float
    loo_recall: float  # refusal examples still refused with themselves left out
    loo_benign_refused: int  # benign look-alikes refused with themselves left out
    examples: int
    benign: int

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _references(policy: EthicsPolicy) -> tuple[list[str], list[str | None]]:
    """(texts, their category id; None for a benign look-alike)."""
    texts: list[str] = []
    owners: list[str | None] = []
    for category in policy.categories:
        said = (*category.examples, *category.paraphrases)
        texts += said
        owners += [category.id] * len(said)
    texts += policy.benign
    owners += [None] * len(policy.benign)
    return texts, owners


def _scores(sims: Any, owners: list[str | None], ids: list[str]) -> tuple[Any, Any]:
    """([n, categories] best similarity to each category's examples, [n] best to a benign one)."""
    import numpy as np

    owner = np.array([o or "" for o in owners], dtype=object)
    per_cat = np.stack([np.where(owner == c, sims, -1.0).max(axis=1) for c in ids], axis=1)
    benign = np.where(owner == "", sims, -1.0).max(axis=1)
    return per_cat, benign


def calibrate(vectors: Any, owners: list[str | None], ids: list[str]) -> Calibration:
    """How the fixed threshold and margin do on the policy's own references, each left out in turn."""
    import numpy as np

    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)  # leave each reference out of its own judgement
    per_cat, benign = _scores(sims, owners, ids)
    best = per_cat.max(axis=1)
    refused = (best >= THRESHOLD) & (best - benign >= MARGIN)
    is_benign = np.array([o is None for o in owners])
    right = np.array(
        [o is not None and ids[int(k)] == o for o, k in zip(owners, per_cat.argmax(axis=1), strict=True)]
    )
    examples = int((~is_benign).sum())
    return Calibration(
        THRESHOLD,
        MARGIN,
        round(float((refused & right).sum() / max(1, examples)), 3),
        int((refused & is_benign).sum()),
        examples,
        int(is_benign.sum()),
    )


def _protective(request: str, policy: EthicsPolicy) -> bool:
    return policy.protective is not None and policy.protective.search(request) is not None


def _cache_dir() -> Path:
    return Path(os.environ.get("TRAINER_AGENT_HOME") or Path.home() / ".trainer-agent") / "cache"


def _reference_vectors(encoder: Any, texts: list[str]) -> Any:
    """The references' embeddings, from the cache when the encoder and the texts are the same."""
    import numpy as np

    key = hashlib.sha256(json.dumps([encoder.path, texts]).encode()).hexdigest()[:16]
    path = _cache_dir() / f"ethics-references-{key}.npy"
    try:
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    except (OSError, ValueError):
        pass
    vectors = encoder.encode(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    except OSError:  # a read-only home: judge without the cache
        pass
    return vectors


class MeaningJudge:
    """An `EthicsJudge` (request, policy) -> EthicsVerdict; see the module docstring."""

    def __init__(self, encoder: Any, policy: EthicsPolicy) -> None:
        self.encoder = encoder
        self.policy = policy
        self.texts, self.owners = _references(policy)
        self.ids = [c.id for c in policy.categories]
        self.vectors = _reference_vectors(encoder, self.texts)
        self.calibration = calibrate(self.vectors, self.owners, self.ids)

    def scores(self, request: str) -> tuple[dict[str, float], float, str]:
        """({category id: similarity to its nearest example}, similarity to the nearest benign one,
        the nearest example of the closest category)."""
        sims = self.encoder.encode([request]) @ self.vectors.T
        per_cat, benign = _scores(sims, self.owners, self.ids)
        scores = {c: float(s) for c, s in zip(self.ids, per_cat[0], strict=True)}
        closest = max(scores, key=lambda c: scores[c])
        nearest = max(
            (float(s), t) for s, t, o in zip(sims[0], self.texts, self.owners, strict=True) if o == closest
        )[1]
        return scores, float(benign[0]), nearest

    def __call__(self, request: str, policy: EthicsPolicy) -> EthicsVerdict:
        per_cat, benign, nearest = self.scores(request)
        category_id = max(per_cat, key=lambda c: per_cat[c])
        best = per_cat[category_id]
        cal = self.calibration
        if best < cal.threshold or best - benign < cal.margin or _protective(request, policy):
            return EthicsVerdict(allowed=True, judge=MEANING_JUDGE)
        verdict = refusal(policy.by_id[category_id], None, MEANING_JUDGE)
        verdict.reasons.insert(
            1,
            f'By meaning it is close to the policy example "{nearest}" (similarity {best:.2f}; '
            f"refused from {cal.threshold:.2f}, and {benign:.2f} to the nearest acceptable request).",
        )
        return verdict


@lru_cache(maxsize=4)
def _judge_for(policy: EthicsPolicy, encoder_path: str) -> MeaningJudge:
    return MeaningJudge(SentenceEncoder.load(encoder_path), policy)


def meaning_judge(policy: EthicsPolicy) -> MeaningJudge | None:
    """The judge for `policy`, or None when no sentence encoder is installed or the judge is
    switched off (see `why_not`); loaded once per policy and encoder in a process."""
    if os.environ.get("TRAINER_AGENT_MEANING_JUDGE", "").lower() in ("0", "off", "no"):
        return None
    path = local_encoder_path()
    return _judge_for(policy, path) if path else None


def why_not() -> str:
    if os.environ.get("TRAINER_AGENT_MEANING_JUDGE", "").lower() in ("0", "off", "no"):
        return "the meaning judge is switched off (TRAINER_AGENT_MEANING_JUDGE=off)"
    return f"the meaning judge is not available: {MISSING}"


def default_judges(policy: EthicsPolicy) -> list[EthicsJudge]:
    """The offline guard, then the meaning judge when a sentence encoder is installed."""
    judges: list[EthicsJudge] = [offline_guard]
    if (by_meaning := meaning_judge(policy)) is not None:
        judges.append(by_meaning)
    return judges
