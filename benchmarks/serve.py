"""Serving benchmark: a real ``factory serve`` process and a real HTTP client on this machine.

``python -m benchmarks.serve ARTIFACT.zip [--requests 200] [--seconds 60] [--texts FILE]``

Sends sequential ``POST /predict`` requests at batch 1 and at batch 32 (each
bounded by a request count and a time limit) and prints requests/s,
texts/s and p50/p99 latency for each as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure(url: str, texts: list[str], batch: int, requests: int, seconds: float) -> dict:
    import httpx

    lat = []
    with httpx.Client(timeout=60) as client:
        client.post(f"{url}/predict", json={"texts": texts[:batch]})  # warm-up
        t0 = time.perf_counter()
        for i in range(requests):
            chunk = [texts[(i * batch + j) % len(texts)] for j in range(batch)]
            s = time.perf_counter()
            r = client.post(f"{url}/predict", json={"texts": chunk})
            r.raise_for_status()
            lat.append(time.perf_counter() - s)
            if time.perf_counter() - t0 > seconds:
                break
        total = time.perf_counter() - t0
    return {
        "batch": batch,
        "requests": len(lat),
        "requests_per_second": round(len(lat) / total, 1),
        "texts_per_second": round(len(lat) * batch / total, 1),
        "p50_ms": round(1000 * statistics.median(lat), 2),
        "p99_ms": round(1000 * _pct(lat, 0.99), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--texts", help="a text file, one text a line (default: EPRSTMT test_public reviews)")
    args = ap.parse_args(argv)
    import httpx

    if args.texts:
        texts = [t for t in open(args.texts, encoding="utf-8").read().splitlines() if t.strip()]
    else:
        from intake.benchmark_data import load_benchmark_task

        texts = [e.text for e in load_benchmark_task("eprstmt", split=0).test[:256]]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", args.artifact, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        meta = httpx.get(f"{url}/metadata").json()
        out = {
            "artifact": args.artifact,
            "kind": meta.get("kind"),
            "params": meta.get("params"),
            "onnx": meta.get("onnx"),
            "results": [
                measure(url, texts, b, args.requests if b == 1 else max(args.requests // 4, 1), args.seconds)
                for b in (1, 32)
            ],
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(out, ensure_ascii=False))
    return out


if __name__ == "__main__":
    main()
