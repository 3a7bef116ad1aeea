"""Peer fits for bench/gbdt.ts: XGBoost `hist` or scikit-learn HistGradientBoosting.

    python3 bench/gbdt_peer.py xgboost|sklearn DATA_DIR --threads N

A long-lived process (bench/peer.ts): it loads the bench's data once, prints
{"ready": true, "peer", "version", "rows"}, then for each JSON line on stdin
({"trees": 100, "lr": 0.1, "depth": 6} or {..., "leaves": 31}) fits once and
prints {"peer", "version", "fit_seconds", "auc", "max_rss_bytes"}. The time is
the fit call only, as for ours. Exits when stdin closes. A missing library is
answered with {"error": ...}.

The data are the very float64 columns our fit reads (DATA_DIR/{train,test}.<column>.f64,
written by bench/gbdt.ts): the same six features in the same encoding, origin and
destination as the same frequency-ordered codes, missing as NaN. All three split
those codes as ordered values (code <= c): ours does so for categorical features
(app/ml/trees/README.md), and the peers get them as numbers, without
enable_categorical / categorical_features, whose set splits ours does not make.
Every tool gets 255 bins per feature plus one for missing values: ours
(app/ml/trees/binning.ts), sklearn's default max_bins=255, XGBoost max_bin=255.
"""

import argparse
import json
import resource
import sys
import time

import numpy as np

COLUMNS = ["hour", "weekday", "month", "distance", "origin", "destination"]


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


def load(data_dir, split):
    x = np.column_stack([np.fromfile(f"{data_dir}/{split}.{c}.f64", dtype="<f8") for c in COLUMNS])
    y = np.fromfile(f"{data_dir}/{split}.label.f64", dtype="<f8")
    return x, y


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer", choices=["xgboost", "sklearn"])
    ap.add_argument("data_dir")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    try:
        if args.peer == "xgboost":
            import xgboost as lib
        else:
            import sklearn as lib
            from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError as e:
        reply({"peer": args.peer, "error": f"{args.peer} is not installed: {e}"})
        return

    x_train, y_train = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "test")
    reply({"ready": True, "peer": args.peer, "version": lib.__version__, "rows": len(y_train)})

    for line in sys.stdin:
        req = json.loads(line)
        if args.peer == "xgboost":
            params = dict(
                tree_method="hist",
                n_estimators=req["trees"],
                learning_rate=req["lr"],
                n_jobs=args.threads,
                max_bin=255,
            )
            if req.get("leaves"):
                params.update(grow_policy="lossguide", max_leaves=req["leaves"], max_depth=0)
            else:
                params.update(max_depth=req["depth"])
            model = lib.XGBClassifier(**params)
        else:
            # Threads: OpenMP's, set by OMP_NUM_THREADS (bench/gbdt.ts sets it to --threads).
            params = dict(
                max_iter=req["trees"], learning_rate=req["lr"], early_stopping=False, random_state=0, max_bins=255
            )
            if req.get("leaves"):
                params.update(max_leaf_nodes=req["leaves"])
            else:
                params.update(max_depth=req["depth"], max_leaf_nodes=None)
            model = HistGradientBoostingClassifier(**params)

        t0 = time.perf_counter()
        model.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - t0
        score = model.predict_proba(x_test)[:, 1]
        reply(
            {
                "peer": args.peer,
                "version": lib.__version__,
                "fit_seconds": fit_seconds,
                "auc": auc(y_test, score),
                # Linux reports ru_maxrss in KiB.
                "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )


if __name__ == "__main__":
    main()
