"""End to end against a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

from eihpredict.scoring import score_frame


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, payload: dict, timeout: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def server(trained, tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # a file, not a pipe nobody reads
    proc = subprocess.Popen([sys.executable, "-m", "eihpredict.cli", "serve", "--model",
                             str(trained.model_dir), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.log_path.read_text()) from None
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("server did not start")
    yield base, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    log.close()


def test_real_server_gives_batch_probabilities(server, records, loaded, cohort_csv):
    base, _ = server
    status, body = _post(base + "/predict", {"participants": records[:50]})
    assert status == 200
    batch = score_frame(loaded.model, pd.read_csv(cohort_csv).head(50)).scored
    np.testing.assert_array_equal([p["p_impaired_eih"] for p in body["predictions"]],
                                  batch["p_impaired_eih"].to_numpy())
    status, body = _post(base + "/predict", {"participants": [{**records[0], "hads_02": 9}]})
    assert status == 422 and body["detail"][0]["field"] == "hads_02"


def test_requests_in_flight_finish_when_the_server_shuts_down(server, records):
    base, proc = server
    results: list[tuple[int, float]] = []
    # 1,000 participants per request with explanations: long enough to be in flight.
    many = [{**r, "participant_id": f"{r['participant_id']}-{k}"} for k in range(4)
            for r in records][:1000]
    body = json.dumps({"participants": many}).encode()
    host, port = base.removeprefix("http://").split(":")
    sent = threading.Semaphore(0)

    def call():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("POST", "/predict?explain=20", body=body,
                     headers={"Content-Type": "application/json"})
        sent.release()  # the whole request is on the wire
        status = conn.getresponse().status
        results.append((status, time.monotonic()))
        conn.close()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for _ in threads:
        assert sent.acquire(timeout=60)
    time.sleep(0.2)  # the server has read the requests it was sent
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=60)
    assert [status for status, _ in results] == [200] * 6
    assert max(done for _, done in results) > signalled, "a request was still in flight"
    # uvicorn finishes the requests, then re-raises SIGTERM to exit with its code.
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    log = proc.log_path.read_text()
    assert "Shutting down" in log and "Traceback" not in log
