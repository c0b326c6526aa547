"""Service latency and throughput: eihpredict serve vs ``mlflow models serve``.

    python -m benchmarks.service [--requests 600] [--seconds 8]

Both servers serve the same LightGBM model directory on 127.0.0.1 and are driven from a
separate process (keep-alive HTTP clients): single-participant latency p50/p99 over
``--requests`` sequential requests, and throughput with 4 concurrent clients for
``--seconds``, with and without ``explain=3``, and for eihpredict with 1 and 2 uvicorn
workers. Targets: p50 under 5 ms for one participant without explanations, and at most
half the p50 (at least twice the throughput) of the MLflow scoring server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETUP = textwrap.dedent("""
    import json, logging, sys
    from pathlib import Path
    from eihpredict.config import load_config
    from eihpredict.training import train
    from eihpredict.simulate import simulate_cohort
    from eihpredict.cohort_io import write_table
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(sys.argv[1])
    write_table(simulate_cohort(2000, seed=1).frame, tmp / "train.csv")
    train(load_config(sys.argv[2]), tmp / "train.csv", out=tmp / "model", track=False)
    rows = simulate_cohort(200, seed=5).frame.drop(columns=["eih_ppt_pre_kpa",
                                                            "eih_ppt_post_kpa"])
    (tmp / "rows.json").write_text(rows.to_json(orient="records"))
""")

DRIVER = textwrap.dedent("""
    import json, statistics, sys, threading, time
    import httpx2 as httpx
    url, server = sys.argv[1], sys.argv[2]
    n_requests, seconds = int(sys.argv[3]), float(sys.argv[4])
    rows = json.loads(open(sys.argv[5]).read())
    def body(i):
        row = {k: v for k, v in rows[i % len(rows)].items() if v is not None}
        if server == "mlflow":
            return {"dataframe_records": [rows[i % len(rows)]]}
        return {"participants": [row]}
    with httpx.Client(timeout=30) as client:
        for i in range(20):
            client.post(url, json=body(i)).raise_for_status()
        latencies = []
        for i in range(n_requests):
            start = time.perf_counter()
            client.post(url, json=body(i)).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    count = [0]
    stop = time.perf_counter() + seconds
    def worker(k):
        with httpx.Client(timeout=30) as c:
            i = k
            while time.perf_counter() < stop:
                c.post(url, json=body(i)).raise_for_status()
                count[0] += 1
                i += 4
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    start = time.perf_counter()
    [t.start() for t in threads]; [t.join() for t in threads]
    elapsed = time.perf_counter() - start
    print(json.dumps({"p50": statistics.median(latencies),
                      "p99": latencies[int(0.99 * (len(latencies) - 1))],
                      "throughput": count[0] / elapsed}))
""")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with code {proc.returncode}") from None
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def _run_server(cmd: list[str], health: str, env: dict | None = None):
    # Server logs go nowhere: an unread pipe fills up and blocks the server.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, **(env or {})})
    _wait(health, proc)
    return proc


def _drive(url: str, kind: str, args, rows: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", DRIVER, url, kind, str(args.requests),
                          str(args.seconds), str(rows)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-c", SETUP, str(tmp),
                        str(ROOT / "benchmarks" / "lightgbm_only.yaml")], check=True)
        model, rows = tmp / "model", tmp / "rows.json"
        bin_dir = Path(sys.executable).parent
        for workers in (1, 2):
            port = _port()
            proc = _run_server([str(bin_dir / "eihpredict"), "serve", "--model", str(model),
                                "--port", str(port), "--workers", str(workers)],
                               f"http://127.0.0.1:{port}/health")
            try:
                base = f"http://127.0.0.1:{port}/predict"
                results[f"eihpredict, {workers} worker(s)"] = _drive(base, "eih", args, rows)
                if workers == 1:
                    results["eihpredict explain=3, 1 worker"] = _drive(base + "?explain=3",
                                                                       "eih", args, rows)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        port = _port()
        # MLflow starts the `uvicorn` found on PATH: the one of this environment.
        proc = _run_server([str(bin_dir / "mlflow"), "models", "serve", "-m", str(model),
                            "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"],
                           f"http://127.0.0.1:{port}/ping",
                           env={"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
        try:
            results["mlflow models serve (baseline)"] = _drive(
                f"http://127.0.0.1:{port}/invocations", "mlflow", args, rows)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    base = results["mlflow models serve (baseline)"]
    print(f"one participant per request; latency over {args.requests} sequential requests, "
          f"throughput with 4 concurrent clients for {args.seconds:.0f} s")
    print("| server | p50 ms | p99 ms | requests/s | p50 vs MLflow | throughput vs MLflow |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['throughput']:.0f} | "
              f"{r['p50'] / base['p50']:.2f}x | {r['throughput'] / base['throughput']:.2f}x |")


if __name__ == "__main__":
    main()
