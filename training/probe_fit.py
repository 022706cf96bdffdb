"""Fitting a probe: standardise the states, keep their first principal components, fit a logistic regression, then
fold the three into one direction and a bias over the raw state (what rag/answer/probes.py reads).

Example: direction, bias = fit(X, y)                          # X: (n, 1536) states, y: 0/1
         scores = sigmoid(X_new @ direction + bias)           # the same as the fitted pipeline's predict_proba
         out_of_fold(X, y, groups, folds=5) -> each example's score from the fold that did not train on it
The reference measurement (../shared/probe-reference) used 32 components and C=0.1 on 154 items.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = 32
C = 0.1
SEED = 20261206


def fit(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, components: int = COMPONENTS,
        c: float = C) -> tuple[np.ndarray, float]:
    """(direction, bias) with sigmoid(x . direction + bias) = the fitted pipeline's P(y=1 | x)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    pca = PCA(n_components=min(components, *Z.shape), random_state=SEED).fit(Z)
    model = LogisticRegression(C=c, max_iter=5000).fit(pca.transform(Z), y, sample_weight=weights)
    # logit = coef . (P (z - m_pca)) + b, z = (x - mean) / scale  ->  direction . x + bias
    w_z = pca.components_.T @ model.coef_[0]
    direction = w_z / scale
    bias = float(model.intercept_[0] - w_z @ pca.mean_ - direction @ mean)
    return direction.astype(np.float32), bias


def scores(X: np.ndarray, direction: np.ndarray, bias: float) -> np.ndarray:
    z = np.clip(X @ direction + bias, -50, 50)
    return 1 / (1 + np.exp(-z))


def auc(y, s) -> float | None:
    """ROC AUC, None when only one label is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None


def folds_of(groups: list[str], y: np.ndarray, folds: int = 5) -> np.ndarray:
    """A fold number per example; examples of one group (the variants of one question) share a fold, and the folds
    are stratified by the group's first label."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SEED)
    fold = np.zeros(len(y), dtype=int)
    for n, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        fold[test] = n
    return fold


def out_of_fold(X: np.ndarray, y: np.ndarray, fold: np.ndarray, extra_X: np.ndarray | None = None,
                extra_y: np.ndarray | None = None, extra_weight: float = 1.0, **kw) -> np.ndarray:
    """Each example's score from a probe fitted without its fold (extra examples, e.g. the training corpus's, are
    in every fit)."""
    out = np.zeros(len(y))
    for k in np.unique(fold):
        train = fold != k
        Xt, yt, wt = X[train], y[train], np.ones(train.sum())
        if extra_X is not None and len(extra_X):
            Xt, yt = np.vstack([Xt, extra_X]), np.concatenate([yt, extra_y])
            wt = np.concatenate([wt, np.full(len(extra_y), extra_weight)])
        direction, bias = fit(Xt, yt, wt, **kw)
        out[fold == k] = scores(X[fold == k], direction, bias)
    return out
