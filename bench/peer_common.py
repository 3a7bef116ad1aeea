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
