"""Evidently's drift tests, written as Evidently writes them (evidently 0.7,
src/evidently/legacy/calculations/stattests/*.py and registry.py), on SciPy and
numpy: the independent computation that drift.test.ts checks Dagwood against.

stdin: JSON [{"ref": [...], "cur": [...], "type": "numeric"|"categorical",
"test": name or null}], NaN/Infinity as JSON tokens, null for missing.
stdout: JSON [{"test", "statistic", "pValue", "refN", "curN"}].
"""
import json
import sys

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance
from scipy.stats import chisquare, norm


def unique_keys(cur, ref):
    return list(set(ref.dropna().unique()) | set(cur.dropna().unique()))


def get_binned_data(ref, cur, ftype, feel_zeroes=True):
    n_vals = ref.nunique()
    if ftype == "numeric" and n_vals > 20:
        combined = np.asarray(pd.concat([ref, cur], axis=0).values)
        bins = np.histogram_bin_edges(combined, bins="sturges")
        rp = np.histogram(ref, bins)[0] / len(ref)
        cp = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = unique_keys(cur, ref)
        rd = {**dict.fromkeys(keys, 0), **dict(ref.value_counts())}
        cd = {**dict.fromkeys(keys, 0), **dict(cur.value_counts())}
        rp = np.array([rd[k] / len(ref) for k in keys])
        cp = np.array([cd[k] / len(cur) for k in keys])
    if feel_zeroes:
        m = min(rp[rp != 0])
        np.place(rp, rp == 0, m / 10**6 if m <= 0.0001 else 0.0001)
        m = min(cp[cp != 0])
        np.place(cp, cp == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return rp, cp


def default_test(ref, cur, ftype):
    n_values = pd.concat([ref, cur]).nunique()
    if ref.shape[0] <= 1000:
        if ftype == "numeric":
            return ("chisquare" if n_values > 2 else "z") if n_values <= 5 else "ks"
        return "chisquare" if n_values > 2 else "z"
    if ftype == "numeric":
        return "jensenshannon" if n_values <= 5 else "wasserstein"
    return "jensenshannon"


def run(case):
    ftype = case["type"]
    ref = pd.Series(case["ref"], dtype="float64" if ftype == "numeric" else "object")
    cur = pd.Series(case["cur"], dtype="float64" if ftype == "numeric" else "object")
    # data_drift.py get_one_column_drift: ±inf → NaN, then dropna.
    ref = ref.replace([-np.inf, np.inf], np.nan).dropna()
    cur = cur.replace([-np.inf, np.inf], np.nan).dropna()
    test = case.get("test") or default_test(ref, cur, ftype)
    stat, p = None, None
    if test == "ks":
        r = stats.ks_2samp(ref, cur)
        stat, p = float(r[0]), float(r[1])
    elif test == "wasserstein":
        stat = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
    elif test == "chisquare":
        keys = unique_keys(cur, ref)
        rd = {**dict.fromkeys(keys, 0), **dict(ref.value_counts())}
        cd = {**dict.fromkeys(keys, 0), **dict(cur.value_counts())}
        k_norm = cur.shape[0] / ref.shape[0]
        r = chisquare([cd[k] for k in keys], [rd[k] * k_norm for k in keys])
        stat, p = float(r[0]), float(r[1])
    elif test == "z":
        if ref.nunique() == 1 and cur.nunique() == 1 and ref.unique()[0] == cur.unique()[0]:
            p = 1.0
        else:
            keys = sorted(unique_keys(cur, ref))
            a = ref.apply(lambda x, key=keys[0]: 0 if x == key else 1)
            b = cur.apply(lambda x, key=keys[0]: 0 if x == key else 1)
            n1, n2 = len(a), len(b)
            p1, p2 = float(sum(a)) / n1, float(sum(b)) / n2
            P = float(p1 * n1 + p2 * n2) / (n1 + n2)
            z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
            p = float(2 * (1 - norm.cdf(np.abs(z))))
            stat = float(z)
    elif test == "jensenshannon":
        rp, cp = get_binned_data(ref, cur, ftype, False)
        stat = float(distance.jensenshannon(rp, cp, None))
    elif test == "psi":
        rp, cp = get_binned_data(ref, cur, ftype)
        stat = float(np.sum((rp - cp) * np.log(rp / cp)))
    return {"test": test, "statistic": None if stat is None or not np.isfinite(stat) else float(stat),
            "pValue": p, "refN": int(ref.shape[0]), "curN": int(cur.shape[0])}


print(json.dumps([run(c) for c in json.load(sys.stdin)]))
