"""Peer fits for bench/gbdt.ts: XGBoost `hist` or scikit-learn HistGradientBoosting.

    python3 bench/gbdt_peer.py xgboost|sklearn TRAIN.csv TEST.csv --threads N \
        [--depth 6 | --leaves 31] [--trees 100] [--lr 0.1]

The CSVs have a header; the last column is the 0/1 label, missing values are
"nan". Prints one JSON object: {"peer", "version", "fit_seconds", "auc"}; the
time is the fit call only (reading the CSV is not counted, as for ours).
Exits 3 with {"error": ...} when the peer is not installed.
"""

import argparse
import json
import sys
import time

import numpy as np


def auc(y, score):
    """Exact ROC AUC: Mann-Whitney U with average ranks for tied scores."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    n = len(s)
    ranks = np.empty(n, dtype=np.float64)
    # Average rank over each run of equal scores.
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [n]))
    for a, b in zip(starts, ends):
        ranks[a:b] = (a + b + 1) / 2.0
    pos = y[order] == 1
    n_pos = pos.sum()
    n_neg = n - n_pos
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, :-1], data[:, -1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", choices=["xgboost", "sklearn"])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--leaves", type=int, default=0)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    args = ap.parse_args()

    try:
        if args.peer == "xgboost":
            import xgboost as lib
        else:
            import sklearn as lib
            from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError as e:
        print(json.dumps({"peer": args.peer, "error": f"not installed: {e}"}))
        sys.exit(3)

    x_train, y_train = load(args.train)
    x_test, y_test = load(args.test)

    if args.peer == "xgboost":
        params = dict(
            tree_method="hist",
            n_estimators=args.trees,
            learning_rate=args.lr,
            n_jobs=args.threads,
            max_bin=256,
        )
        if args.leaves:
            params.update(grow_policy="lossguide", max_leaves=args.leaves, max_depth=0)
        else:
            params.update(max_depth=args.depth)
        model = lib.XGBClassifier(**params)
    else:
        params = dict(max_iter=args.trees, learning_rate=args.lr, early_stopping=False, random_state=0)
        if args.leaves:
            params.update(max_leaf_nodes=args.leaves)
        else:
            params.update(max_depth=args.depth, max_leaf_nodes=None)
        model = HistGradientBoostingClassifier(**params)

    t0 = time.perf_counter()
    model.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - t0
    score = model.predict_proba(x_test)[:, 1]
    print(
        json.dumps(
            {"peer": args.peer, "version": lib.__version__, "fit_seconds": fit_seconds, "auc": auc(y_test, score)}
        )
    )


if __name__ == "__main__":
    main()
