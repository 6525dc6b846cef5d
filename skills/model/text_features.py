"""TF-IDF features for text models: the tokenizer both scikit-learn and the ONNX graph use, the
vocabulary's size and how it is chosen."""

from __future__ import annotations

from typing import Any

from trainer_agent.skills.model.text_net import (
    TOKEN_PATTERN as TOKEN_PATTERN,  # the tokens of every text model
)

DEFAULT_MAX_FEATURES = 50_000


C_GRID = (1.0, 4.0, 16.0)


def _vectorizer(vocabulary: list[str] | None = None, max_features: int | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=1 if vocabulary else 2,
        max_features=max_features,
        vocabulary=vocabulary,
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
    )


def keep_whole_pairs(terms: list[str]) -> list[str]:
    """`terms` less any word pair whose words are not terms themselves.

    skl2onnx decides how to split a pair by looking its words up in the vocabulary, and takes a
    pair with an unknown word for one token containing a space, which never matches in ONNX. Such
    pairs appear only at the frequency cut-off (a word is at least as frequent as its pairs).
    """
    vocab = set(terms)
    return sorted(t for t in vocab if all(w in vocab for w in t.split(" ")))


def select_vocabulary(x: Any, max_features: int) -> list[str]:
    """The `max_features` most frequent terms (min_df=2), less pairs with unknown words."""
    return keep_whole_pairs(list(_vectorizer(max_features=max_features).fit(x).vocabulary_))


class Counts:
    """Word 1-2 gram counts of the training texts, computed once; any vocabulary size is a column
    subset of it (TF-IDF of a subset equals TF-IDF fitted on that vocabulary)."""

    def __init__(self, x: Any) -> None:
        import numpy as np
        from sklearn.feature_extraction.text import CountVectorizer

        vec = CountVectorizer(ngram_range=(1, 2), min_df=2, token_pattern=TOKEN_PATTERN, lowercase=True)
        try:
            self.matrix = vec.fit_transform(x).tocsc()
            self.terms = np.asarray(vec.get_feature_names_out(), dtype=object)
        except ValueError:  # no term occurs twice: fall back to every term
            vec.set_params(min_df=1)
            self.matrix = vec.fit_transform(x).tocsc()
            self.terms = np.asarray(vec.get_feature_names_out(), dtype=object)
        freq = np.asarray(self.matrix.sum(axis=0)).ravel()
        self.order = sorted(range(len(self.terms)), key=lambda i: (-freq[i], self.terms[i]))
        self._cache: dict[int, tuple[list[str], Any]] = {}

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    def vocabulary(self, k: int) -> list[str]:
        return self.tfidf(k)[0]

    def tfidf(self, k: int) -> tuple[list[str], Any]:
        """(vocabulary of the k most frequent terms less broken pairs, TF-IDF matrix on it)."""
        from sklearn.feature_extraction.text import TfidfTransformer

        if k not in self._cache:
            vocab = keep_whole_pairs([str(self.terms[i]) for i in self.order[:k]])
            index = {str(t): i for i, t in enumerate(self.terms)}
            cols = [index[t] for t in vocab]
            self._cache[k] = (vocab, TfidfTransformer().fit_transform(self.matrix[:, cols].tocsr()))
        return self._cache[k]


def text_classifier(family: str, value: float, class_weight: str | None, binary: bool, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB

    if family == "tfidf-complement-nb":
        return ComplementNB(alpha=value)
    # liblinear is 5-30x faster than lbfgs on sparse binary problems here; multinomial needs lbfgs.
    solver = "liblinear" if binary else "lbfgs"
    return LogisticRegression(
        C=value, max_iter=1000, class_weight=class_weight, solver=solver, random_state=seed
    )


def text_pipeline(family: str, vocabulary: list[str], value: float, class_weight, binary: bool, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    vec = TfidfVectorizer(
        ngram_range=(1, 2), vocabulary=vocabulary, token_pattern=TOKEN_PATTERN, lowercase=True
    )
    return Pipeline([("tfidf", vec), ("clf", text_classifier(family, value, class_weight, binary, seed))])
