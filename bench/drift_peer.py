"""Peer for bench/drift.ts: SciPy's ks_2samp and wasserstein_distance per column.

    python3 bench/drift_peer.py DATA_DIR --columns C --ref-rows N --cur-rows M

A long-lived process (bench/peer.ts): it loads DATA_DIR/ref.f64 and
DATA_DIR/cur.f64 (column-major float64, the very values our drift reads from
DuckDB) once, prints {"ready": true, "version"}, then for each JSON line on
stdin computes, for every column, scipy.stats.ks_2samp (two-sided, method
auto) and scipy.stats.wasserstein_distance divided by np.std of the reference
(Evidently's normed Wasserstein) and prints {"seconds", "wasserstein", "ks"}.
The time is those calls only. Exits when stdin closes.
"""

import argparse
import json
import sys
import time

import numpy as np
import scipy
from peer_common import reply
from scipy import stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--columns", type=int, required=True)
    ap.add_argument("--ref-rows", type=int, required=True)
    ap.add_argument("--cur-rows", type=int, required=True)
    a = ap.parse_args()
    ref = np.fromfile(f"{a.data_dir}/ref.f64", dtype=np.float64).reshape(a.columns, a.ref_rows)
    cur = np.fromfile(f"{a.data_dir}/cur.f64", dtype=np.float64).reshape(a.columns, a.cur_rows)
    reply({"ready": True, "version": scipy.__version__})
    for _line in sys.stdin:
        t0 = time.perf_counter()
        ws, ks = [], []
        for k in range(a.columns):
            ks.append(float(stats.ks_2samp(ref[k], cur[k])[1]))
            ws.append(float(stats.wasserstein_distance(ref[k], cur[k]) / max(float(np.std(ref[k])), 0.001)))
        reply({"seconds": time.perf_counter() - t0, "wasserstein": ws, "ks": ks})


if __name__ == "__main__":
    main()
