"""Reference side of nodes/sklearn-quality.test.ts: scikit-learn's own estimators,
with their defaults, on scikit-learn's bundled datasets and seattle-weather.

Usage: python3 sklearn_quality.py data|score OUT_DIR SEATTLE_CSV SPLITS [DATASET,...]

`data` writes to OUT_DIR, for each dataset, <name>.csv (the raw rows:
features, then the target column; seattle-weather as shipped, `date` as text
that DuckDB reads as DATE), the table the Dagwood side trains on, and
splits.json:
  { "sklearn": "<version>", "datasets": [ { name, target, task, csv, rows,
    splits: [ { seed, train: [row ids], test: [row ids] } ] } ] }
`score` then fits scikit-learn's estimators on those splits and writes
scores.json: { <dataset>: { <estimator>: [ { accuracy, macro_f1 } | { r2 },
one per split ] } }.

Splits: for seed s in 0..SPLITS-1, train_test_split(test_size=0.25,
random_state=s), stratified by class for classification. Both sides train on
the same rows and score the same held-out rows.

Estimators, each with scikit-learn's defaults (random_state = the split's seed
where the estimator is randomized): DecisionTree*, RandomForest*,
HistGradientBoosting*, LogisticRegression / Ridge, MLPClassifier /
MLPRegressor. The linear models and the MLPs get a StandardScaler in front,
as scikit-learn's documentation recommends for them and as Dagwood's
preprocessing does for its linear family and MLP (so the reference is the
stronger, usual setup). The date column enters as its calendar parts (year,
month, day, ISO weekday), computed here with Python's datetime, as Dagwood's
train blocks use a DATE column by default (dateFeatures "parts").
"""

import csv
import json
import os
import sys
import warnings
from datetime import date

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor


def clean(name):
    out = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return out


def bundled(loader, name, task):
    d = loader()
    names = [clean(n) for n in getattr(d, "feature_names", [f"x{i}" for i in range(d.data.shape[1])])]
    X = np.asarray(d.data, dtype=float)
    y = np.asarray(d.target)
    return {"name": name, "task": task, "names": names, "X": X, "y": y, "target": "target"}


def seattle(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    numbers = ["precipitation", "temp_max", "temp_min", "wind"]
    names = ["date.year", "date.month", "date.day", "date.weekday"] + numbers
    X = np.array(
        [
            [d.year, d.month, d.day, d.isoweekday()] + [float(r[c]) for c in numbers]
            for r in rows
            for d in [date.fromisoformat(r["date"])]
        ],
        dtype=float,
    )
    y = np.array([r["weather"] for r in rows])
    return {"name": "seattle_weather", "task": "classification", "names": names, "X": X, "y": y,
            "target": "weather", "rows": rows}


def estimators(task, seed):
    if task == "classification":
        return {
            "tree": DecisionTreeClassifier(random_state=seed),
            "forest": RandomForestClassifier(random_state=seed),
            "gbdt": HistGradientBoostingClassifier(random_state=seed),
            "logistic": make_pipeline(StandardScaler(), LogisticRegression()),
            "mlp": make_pipeline(StandardScaler(), MLPClassifier(random_state=seed)),
        }
    return {
        "tree": DecisionTreeRegressor(random_state=seed),
        "forest": RandomForestRegressor(random_state=seed),
        "gbdt": HistGradientBoostingRegressor(random_state=seed),
        "linear": make_pipeline(StandardScaler(), Ridge()),
        "mlp": make_pipeline(StandardScaler(), MLPRegressor(random_state=seed)),
    }


def write_csv(ds, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if "rows" in ds:
            cols = ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]
            w.writerow(cols)
            for r in ds["rows"]:
                w.writerow([r[c] for c in cols])
            return
        w.writerow(ds["names"] + [ds["target"]])
        for x, t in zip(ds["X"], ds["y"]):
            w.writerow([repr(float(v)) for v in x] + [t.item() if hasattr(t, "item") else t])


DATASETS = {
    "breast_cancer": lambda _: bundled(datasets.load_breast_cancer, "breast_cancer", "classification"),
    "wine": lambda _: bundled(datasets.load_wine, "wine", "classification"),
    "iris": lambda _: bundled(datasets.load_iris, "iris", "classification"),
    "digits": lambda _: bundled(datasets.load_digits, "digits", "classification"),
    "diabetes": lambda _: bundled(datasets.load_diabetes, "diabetes", "regression"),
    "seattle_weather": seattle,
}


def load_all(seattle_csv, only):
    return [DATASETS[n](seattle_csv) for n in DATASETS if not only or n in only]


def data_phase(out_dir, seattle_csv, n_splits, only):
    """Writes the CSVs and the splits (splits.json)."""
    out = {"sklearn": sklearn.__version__, "datasets": []}
    for ds in load_all(seattle_csv, only):
        y, task = ds["y"], ds["task"]
        csv_path = os.path.join(out_dir, ds["name"] + ".csv")
        write_csv(ds, csv_path)
        ids = np.arange(len(y))
        splits = []
        for seed in range(n_splits):
            tr, te = train_test_split(
                ids, test_size=0.25, random_state=seed, stratify=y if task == "classification" else None
            )
            splits.append({"seed": seed, "train": np.sort(tr).tolist(), "test": np.sort(te).tolist()})
        out["datasets"].append({"name": ds["name"], "target": ds["target"], "task": task, "csv": csv_path,
                                "rows": int(len(y)), "splits": splits})
    with open(os.path.join(out_dir, "splits.json"), "w") as f:
        json.dump(out, f)


def score_phase(out_dir, seattle_csv, only):
    """Fits scikit-learn's estimators on the splits of splits.json; writes scores.json."""
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    with open(os.path.join(out_dir, "splits.json")) as f:
        manifest = json.load(f)
    by_name = {ds["name"]: ds for ds in load_all(seattle_csv, only)}
    scores = {}
    for entry in manifest["datasets"]:
        ds = by_name[entry["name"]]
        X, y, task = ds["X"], ds["y"], ds["task"]
        per = scores.setdefault(entry["name"], {})
        for split in entry["splits"]:
            tr, te = np.array(split["train"]), np.array(split["test"])
            for name, est in estimators(task, split["seed"]).items():
                est.fit(X[tr], y[tr])
                pred = est.predict(X[te])
                if task == "classification":
                    s = {"accuracy": accuracy_score(y[te], pred),
                         "macro_f1": f1_score(y[te], pred, average="macro")}
                else:
                    s = {"r2": r2_score(y[te], pred)}
                per.setdefault(name, []).append(s)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump(scores, f)


def main():
    phase, out_dir, seattle_csv, n_splits = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    only = set(sys.argv[5].split(",")) if len(sys.argv) > 5 and sys.argv[5] else None
    if phase == "data":
        data_phase(out_dir, seattle_csv, n_splits, only)
    elif phase == "score":
        score_phase(out_dir, seattle_csv, only)
    else:
        sys.exit(f"unknown phase {phase!r}: use data or score")


if __name__ == "__main__":
    main()
