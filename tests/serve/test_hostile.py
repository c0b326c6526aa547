"""Hostile input over raw HTTP against a real uvicorn process: never a 5xx, no
participant data in the log, the key checked before the body is parsed, /health
answered while a large request is scored."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.serve.test_uvicorn import _free_port

SECRET_ID = "pid-SECRET-7731"


@pytest.fixture(scope="module")
def hostile_server(trained, tmp_path_factory):
    port = _free_port()
    root = tmp_path_factory.mktemp("hostile")
    log = open(root / "server.log", "w")
    env = {**os.environ, "EIHPREDICT_API_KEY": "k3y", "EIHPREDICT_LOG_PARTICIPANT_DATA": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "eihpredict.cli", "serve", "--model",
                             str(trained.model_dir), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                break
        except OSError:
            time.sleep(0.3)
    yield port, root / "server.log"
    proc.terminate()
    proc.wait(timeout=30)


def _raw(port: int, body: bytes, content_type: str | None = "application/json",
         key: str | None = "k3y", path: str = "/predict", method: str = "POST"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if key:
        headers["X-API-Key"] = key
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    result = response.status, dict(response.getheaders()), data
    conn.close()
    return result


def _record(**extra) -> dict:
    return {"participant_id": SECRET_ID, "sex": "female", **extra}


CASES = {
    "text/plain": (json.dumps({"participants": [_record()]}).encode(), "text/plain", 415),
    "no content type": (json.dumps({"participants": [_record()]}).encode(), None, 415),
    "form": (b"participants=1", "application/x-www-form-urlencoded", 415),
    "NaN": (b'{"participants": [{"participant_id": "a", "sex": "male", "age_years": NaN}]}',
            "application/json", 422),
    "Infinity": (b'{"participants": [{"participant_id": "a", "sex": "male", '
                 b'"pcs_01": Infinity}]}', "application/json", 422),
    "1e309": (b'{"participants": [{"participant_id": "a", "sex": "male", "bmi_kg_m2": 1e309}]}',
              "application/json", 422),
    "lone surrogate": (b'{"participants": [{"participant_id": "\\ud800", "sex": "male"}]}',
                       "application/json", 422),
    "bad utf-8": (b'{"participants": [{"participant_id": "\xff\xfe", "sex": "male"}]}',
                  "application/json", 400),
    "deep json": (b'{"participants": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
                  "application/json", 400),
    "huge integer": (b'{"participants": [{"participant_id": "a", "sex": "male", "age_years": '
                     + b"9" * 5000 + b"}]}", "application/json", 400),
    "unknown body key": (json.dumps({"participants": [_record()], "explain": 3}).encode(),
                         "application/json", 422),
    "bool for a number": (json.dumps({"participants": [_record(pcs_01=True)]}).encode(),
                          "application/json", 422),
    # Non-finite numbers outside a participant: the 422 must still be valid JSON.
    "bare 1e999": (b"1e999", "application/json", 422),
    "bare NaN": (b"NaN", "application/json", 422),
    "participants NaN": (b'{"participants": NaN}', "application/json", 422),
    "NaN in the list": (b'{"participants": [{"participant_id": "a", "sex": "female"}, NaN]}',
                        "application/json", 422),
    "NaN beside": (b'{"participants": [{"participant_id": "a", "sex": "female"}], "x": NaN}',
                   "application/json", 422),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_bodies_get_4xx_never_5xx(hostile_server, case):
    port, _ = hostile_server
    body, kind, expected = CASES[case]
    status, headers, data = _raw(port, body, kind)
    assert status == expected, data[:300]
    assert headers.get("x-content-type-options") == "nosniff"
    assert "server" not in {k.lower() for k in headers}


def test_a_header_given_twice_is_refused_and_the_body_never_logged(hostile_server):
    """Two Content-Type headers (the guard and the framework could read different ones):
    400 before the body is read, and the participant's id stays out of the log."""
    port, log = hostile_server
    body = json.dumps({"participants": [_record()]}).encode()
    for doubled in (b"Content-Type: text/plain\r\nContent-Type: application/json",
                    b"X-API-Key: k3y\r\nX-API-Key: other"):
        request = (b"POST /predict HTTP/1.1\r\nHost: x\r\n" + doubled
                   + (b"" if b"X-API-Key" in doubled else b"\r\nX-API-Key: k3y")
                   + (b"\r\nContent-Type: application/json" if b"Content-Type" not in doubled
                      else b"")
                   + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request)
            reply = b""
            while chunk := sock.recv(65536):  # the server closes the connection
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
        assert b"more than once" in reply
    assert SECRET_ID not in log.read_text()


def test_the_key_is_checked_before_the_body_is_parsed(hostile_server):
    port, _ = hostile_server
    assert _raw(port, b"{not json", key=None)[0] == 401
    assert _raw(port, b"{not json", key="wrong")[0] == 401
    for path in ("/docs", "/openapi.json", "/model"):
        assert _raw(port, b"", key=None, path=path, method="GET")[0] == 401
    assert _raw(port, b"", key=None, path="/health", method="GET")[0] == 200
    assert _raw(port, b"", key="k3y", path="/docs", method="GET")[0] == 404  # off with a key


def test_no_participant_data_in_the_server_log(hostile_server):
    port, log = hostile_server
    for body, kind, _ in CASES.values():
        _raw(port, body, kind)
    ok = _raw(port, json.dumps({"participants": [_record()]}).encode())
    assert ok[0] == 200 and ok[1].get("cache-control") == "no-store"
    time.sleep(0.5)
    assert SECRET_ID not in log.read_text()


def test_half_sent_requests_are_closed(hostile_server):
    port, _ = hostile_server
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"X-API-Key: k3y\r\nContent-Length: 100\r\n\r\n{\"partic")
    start = time.monotonic()
    try:
        while sock.recv(1024):
            pass
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    assert time.monotonic() - start < 25  # the server gave up on the sender


def test_health_answers_while_large_requests_are_scored(hostile_server, records):
    """/health is answered *during* the scoring of a large request, not after it.

    An ordering check, not a speed threshold: a /health call counts when it starts and
    ends inside the span of one large request. A blocked event loop answers /health only
    after the large response has been written, so (almost) none would count; a free loop
    answers most of them inside the span, whatever the machine's load."""
    port, _ = hostile_server
    big = json.dumps({"participants": [dict(r, participant_id=f"b{i}")
                                       for i, r in enumerate((records * 4)[:1000])]}).encode()
    stop = threading.Event()
    spans: list[tuple[float, float]] = []

    def load():
        while not stop.is_set():
            start = time.perf_counter()
            status = _raw(port, big, path="/predict?explain=20")[0]
            spans.append((start, time.perf_counter()))
            assert status == 200

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(1.0)
        calls = []
        for _ in range(40):
            start = time.perf_counter()
            assert _raw(port, b"", key=None, path="/health", method="GET")[0] == 200
            calls.append((start, time.perf_counter()))
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(timeout=120)
    assert len(spans) >= 2, "the large requests were answered"
    inside = sum(any(a <= start and end <= b for a, b in spans) for start, end in calls)
    assert inside >= len(calls) // 3, (inside, len(calls), spans[:5], calls[:5])


# --- issue 27 ------------------------------------------------------------------------------

def test_a_key_given_twice_in_the_body_is_refused_naming_it(hostile_server):
    port, _ = hostile_server
    one = json.dumps(_record())
    for body, key in (
        (b'{"participants": [' + one.encode() + b'], "participants": []}', "participants"),
        (b'{"participants": [{"participant_id": "a", "participant_id": "b", '
         b'"sex": "female"}]}', "participant_id"),
        (b'{"participants": [{"participant_id": "a", "sex": "female", "sex": "male"}]}',
         "sex"),
    ):
        status, _, data = _raw(port, body)
        assert status == 422, data[:300]
        detail = json.loads(data)["detail"]
        assert detail[0]["field"] == key and f"key '{key}' is given more than once" in \
            detail[0]["rule"], detail


def test_ids_keep_their_bytes_or_are_refused_over_http(hostile_server):
    port, log = hostile_server
    for given in ("a\r\nb", "c\rd", "e\nf", "g\th"):
        status, _, data = _raw(port, json.dumps({"participants": [
            _record(participant_id=given)]}).encode())
        assert status == 422, data[:300]
        detail = json.loads(data)["detail"][0]
        assert detail["field"] == "participant_id" and "control character" in detail["rule"]
    status, _, data = _raw(port, json.dumps({"participants": [
        _record(participant_id="a b/é-1")]}).encode())
    assert status == 200 and json.loads(data)["predictions"][0]["participant_id"] == "a b/é-1"


def test_an_oversized_chunked_body_gets_413_and_no_error_in_the_log(hostile_server):
    port, log = hostile_server
    before = log.read_text()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    chunks = (b" " * 65536 for _ in range(40))  # 2.6 MB, over the 2 MB default, no length
    conn.request("POST", "/predict", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/json", "X-API-Key": "k3y",
                          "Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    assert response.status == 413
    conn.close()
    time.sleep(0.5)
    added = log.read_text()[len(before):]
    assert "internal error" not in added and "ERROR" not in added, added
