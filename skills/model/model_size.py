"""How big a model is: its learned parameters (what a parameter limit counts), the limits on
parameters and size a request sets, and the size of the file it exports to."""

from __future__ import annotations

import math
from typing import Any

from trainer_agent.skills.export.sklearn_onnx import convert
from trainer_agent.skills.specs import Requirement


def _tree_params(tree: Any) -> int:
    t = tree.tree_
    leaves = int((t.children_left == -1).sum())
    per_leaf = int(t.value.shape[1] * t.value.shape[2])
    return 2 * (t.node_count - leaves) + leaves * per_leaf


def _lightgbm_params(model: Any) -> int:
    """Per tree, from LightGBM's dump: feature index and threshold per split, one value per leaf. A
    categorical split on k categories counts as k splits, as the ONNX graph holds it (one equality
    branch per category)."""
    total = 0
    stack = [t["tree_structure"] for t in model.booster_.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" not in node:
            total += 1  # a leaf value
            continue
        threshold = node["threshold"]
        total += 2 * (str(threshold).count("||") + 1 if node["decision_type"] == "==" else 1)
        stack += [node["left_child"], node["right_child"]]
    return total


def _is_lightgbm(model: Any) -> bool:
    return type(model).__module__.startswith("lightgbm")


def tree_ensemble_params(model: Any) -> int:
    """The parameters in the trees of a fitted tree ensemble (scikit-learn's or LightGBM's): the part
    that fewer or shallower trees shrink."""
    if _is_lightgbm(model):
        return _lightgbm_params(model)
    trees = model.estimators_.ravel() if hasattr(model.estimators_, "ravel") else model.estimators_
    return sum(_tree_params(t) for t in trees)


def count_params(model: Any) -> int:
    """Learned numbers the model needs at prediction time.

    - TF-IDF: one idf weight per vocabulary term (the terms themselves are not counted).
    - Linear models: coef_ + intercept_; naive Bayes: feature log-probabilities + class priors;
      MLPs: weights + biases; scalers: mean + scale per column.
    - Trees: feature index and threshold per split node, one value per output per leaf
      (the values scikit-learn keeps on inner nodes are unused and not counted), plus the
      boosting baseline per output. This is what the ONNX tree ensemble stores. LightGBM: the
      same from its booster's dump.
    - Imputers: one statistic per column; one-hot encoders: one per category. An ordinal
      encoder's categories, like a vocabulary's terms, are not counted.
    - PyTorch modules: every parameter element.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import BaseDecisionTree

    if _is_lightgbm(model):
        return _lightgbm_params(model)
    if hasattr(model, "parameters") and callable(model.parameters):  # a torch module
        return int(sum(p.numel() for p in model.parameters()))
    if isinstance(model, Pipeline):
        return sum(count_params(step) for _, step in model.steps if step not in (None, "passthrough"))
    if isinstance(model, ColumnTransformer):
        return sum(count_params(t) for _, t, _ in model.transformers_ if t not in ("drop", "passthrough"))
    if isinstance(model, TfidfVectorizer):
        return len(model.idf_) if model.use_idf else 0
    if isinstance(model, SimpleImputer):
        return len(model.statistics_)
    if isinstance(model, StandardScaler):
        return int(np.size(model.mean_) + np.size(model.scale_))
    if isinstance(model, OneHotEncoder):
        return sum(len(c) for c in model.categories_)
    if isinstance(model, (GradientBoostingClassifier, GradientBoostingRegressor)):
        trees = model.estimators_
        return int(trees.shape[1]) + sum(_tree_params(t) for t in trees.ravel())
    if isinstance(model, (RandomForestClassifier, RandomForestRegressor)):
        return sum(_tree_params(t) for t in model.estimators_)
    if isinstance(model, BaseDecisionTree):
        return _tree_params(model)
    if isinstance(model, (ComplementNB, MultinomialNB)):
        return int(np.size(model.feature_log_prob_) + np.size(model.class_log_prior_))
    if isinstance(model, (MLPClassifier, MLPRegressor)):
        return int(sum(np.size(w) for w in model.coefs_) + sum(np.size(b) for b in model.intercepts_))
    if hasattr(model, "estimators_") and isinstance(model.estimators_, list):  # voting ensembles
        return sum(count_params(e) for e in model.estimators_)
    if hasattr(model, "coef_"):
        return int(np.size(model.coef_) + np.size(getattr(model, "intercept_", 0)))
    return 0


def upper_limit(requirements: list[Requirement], name: str) -> int | None:
    """The largest integer allowed by "<"/"<=" requirements on `name`, or None."""
    limit = None
    for req in requirements:
        if req.name != name or req.op not in ("<", "<="):
            continue
        value = math.ceil(req.target) - 1 if req.op == "<" else math.floor(req.target)
        limit = value if limit is None else min(limit, value)
    return limit


_upper_limit = upper_limit


def limit_phrase(requirements: list[Requirement], name: str, limit: int, what: str) -> str:
    op = next((r.op for r in requirements if r.name == name and r.op in ("<", "<=")), "<=")
    return f"under {limit + 1:,} {what}" if op == "<" else f"at most {limit:,} {what}"


def onnx_or_saved_size(pipe: Any, saved: int, info: dict[str, Any]) -> int:
    """The larger of the joblib file and the ONNX file the model converts to (the report checks
    a size requirement against the ONNX file, which is about twice the compressed joblib for text)."""

    meta = dict(info, labels=[str(c) for c in getattr(pipe, "classes_", [])])
    metadata = 600 + 150 * len(info["inputs"])  # the export adds an example input and the schema
    return max(saved, len(convert(pipe, meta).SerializeToString()) + metadata)
