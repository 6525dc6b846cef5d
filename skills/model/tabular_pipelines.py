"""The scikit-learn table families (configs/models.yaml, tabular_*): one pipeline per catalog name,
preprocessing (imputing, scaling, one-hot or ordinal codes) plus the estimator, unfitted.

    pipe = pipeline(TaskType.TABULAR_CLASSIFICATION, inputs, "random-forest-classifier",
                    start_hyper("random-forest-classifier"), seed=0).fit(x, y)
"""

from __future__ import annotations

from typing import Any

from trainer_agent.skills.model.search_defaults import GB_MAX_DEPTH, GB_N_ESTIMATORS
from trainer_agent.skills.specs import TaskType

RF_TREES = 100
LGBM_N_ESTIMATORS = 100  # LightGBM's own default


def pipeline(
    task: TaskType, inputs: list[dict[str, str]], family: str, hyper: dict[str, Any], seed: int
) -> Any:
    from sklearn import ensemble, linear_model, neural_network
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [i["name"] for i in inputs if i["kind"] == "float"]
    cat = [i["name"] for i in inputs if i["kind"] == "string"]
    scaled = family in ("logistic-regression", "ridge-regression", "mlp-classifier")
    classify = task == TaskType.TABULAR_CLASSIFICATION
    if family.startswith("lightgbm"):
        return _lightgbm_pipeline(classify, num, cat, hyper, seed)
    parts = []
    if num:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
        parts.append(
            ("num", Pipeline([("impute", imputer), ("scale", StandardScaler())]) if scaled else imputer, num)
        )
    if cat:
        # Missing strings arrive as "" (a string tensor has no NaN), so "" is just a category here
        # and no string imputer is needed.
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat))
    if family == "logistic-regression":
        model = linear_model.LogisticRegression(C=hyper.get("C", 1.0), max_iter=2000, random_state=seed)
    elif family == "ridge-regression":
        model = linear_model.Ridge(alpha=hyper.get("alpha", 1.0))
    elif family.startswith("random-forest"):
        rf = ensemble.RandomForestClassifier if classify else ensemble.RandomForestRegressor
        model = rf(
            n_estimators=hyper["n_estimators"],
            max_depth=hyper.get("max_depth"),
            min_samples_leaf=hyper.get("min_samples_leaf", 1 if classify else 3),
            random_state=seed,
            n_jobs=1,
        )
    elif family.startswith("gradient-boosting"):
        gb = ensemble.GradientBoostingClassifier if classify else ensemble.GradientBoostingRegressor
        model = gb(
            n_estimators=hyper["n_estimators"],
            max_depth=hyper["max_depth"],
            learning_rate=hyper.get("learning_rate", 0.1),
            random_state=seed,
        )
    elif family == "mlp-classifier":
        model = neural_network.MLPClassifier(
            (hyper.get("hidden", 64),),
            alpha=hyper.get("alpha", 1e-4),
            max_iter=500,
            early_stopping=False,
            random_state=seed,
        )
    else:
        raise ValueError(family)
    return Pipeline([("prep", ColumnTransformer(parts)), ("model", model)])


def _lightgbm_pipeline(
    classify: bool, num: list[str], cat: list[str], hyper: dict[str, Any], seed: int
) -> Any:
    """LightGBM with its own handling of what the others preprocess: missing numbers go in as
    missing, string columns as native categoricals (ordinal codes; a category unseen in training is
    -1, which LightGBM treats as missing)."""
    import numpy as np
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    parts: list[tuple[str, Any, list[str]]] = []
    if num:
        parts.append(("num", "passthrough", num))
    if cat:
        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float32)
        parts.append(("cat", codes, cat))
    depth = hyper.get("max_depth")
    # `cat_feature`: LightGBM's alias of categorical_feature as a model parameter (the Python name is
    # reserved for fit() and ignored here); the ordinal codes come after the numeric columns.
    categorical: dict[str, Any] = {"cat_feature": list(range(len(num), len(num) + len(cat)))} if cat else {}
    model = (LGBMClassifier if classify else LGBMRegressor)(
        n_estimators=hyper["n_estimators"],
        learning_rate=hyper.get("learning_rate", 0.1),
        num_leaves=hyper.get("num_leaves", 31),
        max_depth=-1 if depth is None else depth,
        min_child_samples=hyper.get("min_child_samples", 20),
        **categorical,
        random_state=seed,
        n_jobs=1,  # one thread: deterministic, and the sandbox's CPU share is the limit anyway
        verbose=-1,
    )
    return Pipeline([("prep", ColumnTransformer(parts)), ("model", model)])


def start_hyper(family: str) -> dict[str, Any]:
    """The settings a tabular family starts from before the search shrinks or tunes it."""
    if family.startswith("gradient-boosting"):
        return {"n_estimators": GB_N_ESTIMATORS, "max_depth": GB_MAX_DEPTH, "learning_rate": 0.1}
    if family.startswith("random-forest"):
        return {"n_estimators": RF_TREES, "max_depth": None}
    if family.startswith("lightgbm"):
        return {"n_estimators": LGBM_N_ESTIMATORS, "max_depth": None, "learning_rate": 0.1, "num_leaves": 31}
    return {}
