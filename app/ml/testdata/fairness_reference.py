"""An independent reference for Dagwood's fairness figures (app/ml/fairness.test.ts).

Reads JSON on stdin: {"y": [0|1...], "pred": [0|1...], "groups": {column: [str|null...]},
"conventions": "fairlearn"|"dagwood", "minGroupSize": int, "smallGroups": "exclude"|"include",
"draws": [[row index...]...] (optional)}; writes the per-group rates, the gaps and, with draws,
each gap's 95 % percentile interval over those bootstrap resamples.

"fairlearn" reproduces Fairlearn's documented definitions (Fairlearn is not installed here):
https://fairlearn.org/main/user_guide/assessment/common_fairness_metrics.html and
fairlearn/metrics/_fairness_metrics.py, _base_metrics.py, _disaggregated_result.py:
- MetricFrame groups with pandas' DataFrame.groupby, whose dropna=True drops rows with a
  missing sensitive feature value;
- true_positive_rate / false_positive_rate read scikit-learn's
  confusion_matrix(normalize="true"), which turns 0/0 into 0 (np.nan_to_num);
- selection_rate is the share of predictions equal to pos_label 1;
- difference() is by_group.max() - by_group.min(), ratio() by_group.min() / by_group.max();
- equalized_odds_difference is Python's max() over the [tpr, fpr] differences,
  equalized_odds_ratio min() over the [tpr, fpr] ratios (agg="worst_case").
"dagwood" keeps missing values as a group (groupby dropna=False) and an undefined rate as NaN,
which pandas' max/min skip; equalized odds then ignores an undefined figure (np.nanmax/nanmin).
"""

import json
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

spec = json.load(sys.stdin)
conventions = spec["conventions"]
columns = list(spec["groups"])
df = pd.DataFrame({"y": spec["y"], "pred": spec["pred"], **spec["groups"]})


def rates(g):
    if conventions == "fairlearn":
        # fairlearn.metrics.true_positive_rate / false_positive_rate: (tnr, fpr, fnr, tpr) of the
        # row-normalised confusion matrix with labels [negative, positive].
        tnr, fpr, fnr, tpr = confusion_matrix(g.y, g.pred, labels=[0, 1], normalize="true").ravel()
    else:
        pos = (g.y == 1).sum()
        neg = (g.y == 0).sum()
        tpr = ((g.y == 1) & (g.pred == 1)).sum() / pos if pos else np.nan
        fpr = ((g.y == 0) & (g.pred == 1)).sum() / neg if neg else np.nan
    return {
        "n": len(g),
        "selection_rate": (g.pred == 1).mean(),
        "true_positive_rate": float(tpr),
        "false_positive_rate": float(fpr),
        "accuracy": (g.y == g.pred).mean(),
    }


def by_group(frame):
    by = columns if len(columns) > 1 else columns[0]
    grouped = frame.groupby(by, dropna=(conventions == "fairlearn"), sort=True)
    rows = {}
    for key, g in grouped:
        key = key if isinstance(key, tuple) else (key,)
        rows[tuple(None if pd.isna(k) else k for k in key)] = rates(g)
    return rows


groups = by_group(df)
counted = {k for k, r in groups.items() if r["n"] >= spec["minGroupSize"] or spec["smallGroups"] == "include"}


def gaps(rows):
    table = pd.DataFrame([r for k, r in rows.items() if k in counted])
    if len(table) < 2:  # Dagwood: one group is compared with nothing (Fairlearn would answer 0)
        return None
    hi, lo = table.max(), table.min()  # pandas skips NaN, as MetricFrame's group_max / group_min
    diff, ratio = hi - lo, lo / hi
    eo = [diff["true_positive_rate"], diff["false_positive_rate"]]
    eor = [ratio["true_positive_rate"], ratio["false_positive_rate"]]
    if conventions == "fairlearn":
        eod, eoratio = max(eo), min(eor)
    else:
        eod = np.nan if np.isnan(eo).all() else np.nanmax(eo)
        eoratio = np.nan if np.isnan(eor).all() else np.nanmin(eor)
    return {
        "demographic_parity_difference": diff["selection_rate"],
        "demographic_parity_ratio": ratio["selection_rate"],
        "equal_opportunity_difference": diff["true_positive_rate"],
        "false_positive_rate_difference": diff["false_positive_rate"],
        "accuracy_difference": diff["accuracy"],
        "equalized_odds_difference": eod,
        "equalized_odds_ratio": eoratio,
    }


GAPS = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "false_positive_rate_difference",
    "accuracy_difference",
    "equalized_odds_difference",
    "equalized_odds_ratio",
]


def clean(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


point = gaps(groups)
out = {
    "droppedRows": int(df[columns].isna().any(axis=1).sum()) if conventions == "fairlearn" else 0,
    "groups": [
        {"values": list(k), **{m: clean(v) for m, v in r.items()}, "counted": k in counted}
        for k, r in groups.items()
    ],
    "gaps": {k: clean(v) for k, v in point.items()} if point else None,
}
if "draws" in spec:
    samples = {k: [] for k in GAPS}
    for draw in spec["draws"]:
        g = gaps(by_group(df.iloc[draw]))
        for k, v in (g or {}).items():
            if not np.isnan(v):
                samples[k].append(v)
    out["intervals"] = {
        k: [clean(x) for x in np.percentile(v, [2.5, 97.5])] if v else [None, None] for k, v in samples.items()
    }
json.dump(out, sys.stdout)
