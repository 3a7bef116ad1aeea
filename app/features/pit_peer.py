"""An independent point-in-time join, for app/features/offline.test.ts.

pandas' merge_asof (https://pandas.pydata.org/docs/reference/api/pandas.merge_asof.html)
with by= (the join keys), direction="backward" (at or before the entity time,
exact matches allowed) and tolerance= (the view's TTL, inclusive), after
keeping the latest created row per (keys, event time), as Feast's offline
stores do.

argv[1]: a JSON spec {entities: csv, timestamp, views: [{csv, keys, ts,
created|null, ttl_ms, features: [[source, column]]}], out: csv}.
"""

import json
import sys

import pandas as pd

spec = json.loads(sys.argv[1])
entities = pd.read_csv(spec["entities"])
entities[spec["timestamp"]] = pd.to_datetime(entities[spec["timestamp"]], utc=True)
entities["__row"] = range(len(entities))
result = entities.sort_values(spec["timestamp"], kind="stable")

for v in spec["views"]:
    view = pd.read_csv(v["csv"])
    view[v["ts"]] = pd.to_datetime(view[v["ts"]], utc=True)
    if v["created"]:
        view[v["created"]] = pd.to_datetime(view[v["created"]], utc=True)
        view = view.sort_values(v["keys"] + [v["ts"], v["created"]], kind="stable")
        view = view.drop_duplicates(subset=v["keys"] + [v["ts"]], keep="last")
    right = view[v["keys"] + [v["ts"]] + [f for f, _ in v["features"]]].rename(
        columns={**{f: c for f, c in v["features"]}, v["ts"]: "__vts"}
    )
    right = right.sort_values("__vts", kind="stable")
    result = pd.merge_asof(
        result,
        right,
        left_on=spec["timestamp"],
        right_on="__vts",
        by=v["keys"],
        direction="backward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(milliseconds=v["ttl_ms"]) if v["ttl_ms"] > 0 else None,
    ).drop(columns=["__vts"])

result = result.sort_values("__row").drop(columns=["__row"])
result[spec["timestamp"]] = result[spec["timestamp"]].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
result.to_csv(spec["out"], index=False)
