"""An independent reference for the expectations runner's tests: Great
Expectations' documented semantics (0.18), implemented in pandas.

Reads {"columns": [{"name", "type"}], "rows": [ {...} ], "expectations": [...]}
as JSON on stdin (NaN allowed) and writes one object per expectation:
{"success", "element_count", "missing_count", "unexpected_count",
"unexpected_percent", "observed_value", "unexpected_values",
"unexpected_rows" (0-based positions of the unexpected rows)}.

Semantics followed (great_expectations 0.18):
- ColumnMapExpectation._validate / _format_map_output (expectations/expectation.py):
  missing = pandas isna (None and NaN); unexpected_percent over non-missing
  rows; success = (nonnull - unexpected) / nonnull >= mostly, vacuously true
  with no rows or no non-missing rows.
- not_be_null / be_null: counts over all rows, no missing_count.
- _to_be_unique: every non-missing row whose value occurs more than once.
- compound_columns_to_be_unique / column_pair: rows kept by ignore_row_if;
  pandas comparisons with NaN are False (unexpected).
- _validate_metric_value_between: a null (NaN) metric fails.
- mean / median / stdev (ddof=1) / min / max / sum / nunique over non-missing
  values; SUM over no values is NULL on SQL backends (pandas would say 0).
- quantiles: SQL percentile_disc (the first value whose cumulative share
  reaches q), as _get_column_quantiles_generic_sqlalchemy computes them.
"""

import json
import math
import re
import sys

import numpy as np
import pandas as pd

NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$")


def to_py(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def map_result(n, considered, unexpected_mask, mostly, over_all, values, index):
    unexpected = int(unexpected_mask.sum())
    rows = [int(i) for i in index[unexpected_mask]]
    if over_all:
        success = True if n == 0 else (n - unexpected) / n >= mostly
        return {
            "success": bool(success),
            "element_count": n,
            "missing_count": None,
            "unexpected_count": unexpected,
            "unexpected_percent": unexpected / n * 100 if n else None,
            "unexpected_values": [to_py(v) for v in values[unexpected_mask]] if values is not None else [],
            "unexpected_rows": rows,
        }
    success = True if n == 0 or considered == 0 else (considered - unexpected) / considered >= mostly
    return {
        "success": bool(success),
        "element_count": n,
        "missing_count": n - considered,
        "unexpected_count": unexpected,
        "unexpected_percent": unexpected / considered * 100 if considered else None,
        "unexpected_values": [to_py(v) for v in values[unexpected_mask]] if values is not None else [],
        "unexpected_rows": rows,
    }


def between(v, k):
    lo, hi = k.get("min_value"), k.get("max_value")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return False
    ok = True
    if lo is not None:
        ok = ok and (v > lo if k.get("strict_min") else v >= lo)
    if hi is not None:
        ok = ok and (v < hi if k.get("strict_max") else v <= hi)
    return bool(ok)


def metric(v, k):
    v = to_py(v)
    return {"success": between(v, k) if v is not None else False, "observed_value": v}


def percentile_disc(sorted_values, q):
    n = len(sorted_values)
    if n == 0:
        return None
    idx = max(math.ceil(n * q) - 1, 0)
    return to_py(sorted_values[idx])


def evaluate(df, types, e):
    t = e["expectation_type"]
    k = e.get("kwargs", {})
    mostly = k.get("mostly", 1)
    n = len(df)
    if t == "expect_table_row_count_to_be_between":
        return metric(n, k)
    if t == "expect_table_columns_to_match_set":
        want = set(k["column_set"])
        have = set(df.columns)
        ok = have == want or (k.get("exact_match") is False and want <= have)
        return {"success": ok}
    if t == "expect_table_columns_to_match_ordered_list":
        return {"success": list(df.columns) == list(k["column_list"]), "observed_value": list(df.columns)}
    if t == "expect_column_to_exist":
        cols = list(df.columns)
        if k.get("column_index") is not None:
            i = k["column_index"]
            return {"success": i < len(cols) and cols[i] == k["column"]}
        return {"success": k["column"] in cols}
    if t == "expect_compound_columns_to_be_unique":
        cols = k["column_list"]
        miss = df[cols].isna()
        ignore = k.get("ignore_row_if", "all_values_are_missing")
        keep = ~miss.all(axis=1) if ignore == "all_values_are_missing" else ~miss.any(axis=1) if ignore == "any_value_is_missing" else pd.Series(True, index=df.index)
        sub = df.loc[keep, cols]
        dup = sub.duplicated(keep=False)
        return map_result(n, int(keep.sum()), dup.to_numpy(), mostly, False, None, sub.index.to_numpy())
    if t == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = df[k["column_A"]], df[k["column_B"]]
        ignore = k.get("ignore_row_if", "both_values_are_missing")
        if ignore == "both_values_are_missing":
            keep = ~(a.isna() & b.isna())
        elif ignore == "either_value_is_missing":
            keep = ~(a.isna() | b.isna())
        else:
            keep = pd.Series(True, index=df.index)
        aa, bb = a[keep], b[keep]
        ok = (aa >= bb) if k.get("or_equal") else (aa > bb)
        return map_result(n, int(keep.sum()), (~ok).to_numpy(), mostly, False, None, aa.index.to_numpy())

    s = df[k["column"]]
    miss = s.isna()
    nonnull = s[~miss]
    if t in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null"):
        mask = miss if t.endswith("not_be_null") else ~miss
        return map_result(n, n, mask.to_numpy(), mostly, True, s.to_numpy(dtype=object), s.index.to_numpy())
    if t == "expect_column_values_to_be_between":
        mask = ~nonnull.map(lambda v: between(to_py(v), k))
    elif t == "expect_column_values_to_be_in_set":
        mask = ~nonnull.isin(k["value_set"])
    elif t == "expect_column_values_to_not_be_in_set":
        mask = nonnull.isin(k["value_set"])
    elif t == "expect_column_values_to_be_unique":
        mask = nonnull.duplicated(keep=False)
    elif t == "expect_column_values_to_match_regex":
        mask = ~nonnull.astype(str).map(lambda v: re.search(k["regex"], v) is not None)
    elif t == "expect_column_values_to_not_match_regex":
        mask = nonnull.astype(str).map(lambda v: re.search(k["regex"], v) is not None)
    elif t == "expect_column_value_lengths_to_be_between":
        mask = ~nonnull.astype(str).str.len().map(lambda v: between(int(v), k))
    else:
        mask = None
    if mask is not None:
        mask = mask.astype(bool)
        return map_result(n, len(nonnull), mask.to_numpy(), mostly, False, nonnull.to_numpy(dtype=object), nonnull.index.to_numpy())

    values = nonnull.astype(float) if NUMERIC.match(types[k["column"]]) else nonnull
    if t == "expect_column_mean_to_be_between":
        return metric(values.mean() if len(values) else None, k)
    if t == "expect_column_median_to_be_between":
        return metric(values.median() if len(values) else None, k)
    if t == "expect_column_stdev_to_be_between":
        return metric(values.std(ddof=1) if len(values) > 1 else None, k)
    if t == "expect_column_min_to_be_between":
        return metric(values.min() if len(values) else None, k)
    if t == "expect_column_max_to_be_between":
        return metric(values.max() if len(values) else None, k)
    if t == "expect_column_sum_to_be_between":
        return metric(values.sum() if len(values) else None, k)
    if t == "expect_column_unique_value_count_to_be_between":
        return metric(int(values.nunique()), k)
    if t == "expect_column_proportion_of_unique_values_to_be_between":
        return metric(values.nunique() / len(values) if len(values) else 0, k)
    if t == "expect_column_distinct_values_to_be_in_set":
        observed = sorted(to_py(v) for v in values.unique())
        return {"success": set(observed) <= set(k["value_set"]), "observed_value": observed}
    if t == "expect_column_quantile_values_to_be_between":
        qr = k["quantile_ranges"]
        srt = np.sort(values.to_numpy())
        vals = [percentile_disc(srt, q) for q in qr["quantiles"]]
        ok = all(
            v is not None and (r[0] is None or v >= r[0]) and (r[1] is None or v <= r[1])
            for v, r in zip(vals, qr["value_ranges"])
        )
        return {"success": ok, "observed_value": {"quantiles": qr["quantiles"], "values": vals}}
    raise ValueError(f"reference does not implement {t}")


def main():
    spec = json.loads(sys.stdin.read())
    names = [c["name"] for c in spec["columns"]]
    types = {c["name"]: c["type"] for c in spec["columns"]}
    df = pd.DataFrame.from_records(spec["rows"], columns=names) if spec["rows"] else pd.DataFrame({c: [] for c in names})
    for c in names:
        if NUMERIC.match(types[c]):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        else:
            df[c] = df[c].astype(object)
    out = [evaluate(df, types, e) for e in spec["expectations"]]
    sys.stdout.write(json.dumps(out))


main()
