"""What the bench peers (bench/*_peer.py) share: the reply line and the BLAS they run on."""

import json
import sys


def reply(obj):
    """One JSON line on stdout, flushed: the bench (bench/peer.ts) reads replies line by line."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def blas_info():
    """The BLAS library and its thread count, where threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info

        return [
            f"{p.get('internal_api')} {p.get('num_threads')} threads"
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except Exception as e:  # threadpoolctl missing or failing: say so, do not guess
        return [f"unknown ({e})"]


def load_rows():
    """Parses `DATA_DIR --features P` and loads the bench's rows: x (rows × P float64, row-major) and y (0/1).

    Replies with an error and returns None when scikit-learn is missing; else replies "ready" and
    returns (x, y).
    """
    import argparse

    import numpy as np

    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--features", type=int, required=True)
    args = ap.parse_args()
    try:
        import sklearn
    except ImportError as e:
        reply({"error": f"scikit-learn is not installed: {e}"})
        return None
    x = np.fromfile(f"{args.data_dir}/x.f64", dtype="<f8").reshape(-1, args.features)
    y = np.fromfile(f"{args.data_dir}/y.f64", dtype="<f8").astype(np.int64)
    reply(
        {
            "ready": True,
            "version": sklearn.__version__,
            "rows": x.shape[0],
            "features": x.shape[1],
            "blas": blas_info(),
        }
    )
    return x, y
