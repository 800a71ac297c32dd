"""The review page's server side: blind pairs per reviewer, resuming, and the POST handler as an input
surface (every malformed request gets a 4xx and one line, never a traceback). No MLflow here: votes
go to an in-memory recorder; tests/test_review_store.py stores them for real."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rftlab.review import app as A
from rftlab.review import server
from rftlab.review.store import Item, Review, Vote
from rftlab.review.validate import MAX_BODY

PORT = 8765
OK_HEADERS = {"Host": f"127.0.0.1:{PORT}", "Content-Type": "application/json"}


def _review(n: int = 6) -> Review:
    items = [Item(pair_id=f"p{i}", trace_id=f"tr-{i}", prompt=f"prompt {i}", a=f"A{i}", b=f"B{i}",
                  a_is="tuned" if i % 2 else "base", b_is="base" if i % 2 else "tuned") for i in range(n)]
    return Review(run_id="run", kind="tuned_vs_base", seed=0, source="evaluate/pairs.json", items=items)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, review, *, reviewer, pair_id, value, comment, shown_left, picked):
        replaced = any(c["reviewer"] == reviewer and c["pair_id"] == pair_id for c in self.calls)
        self.calls.append({"reviewer": reviewer, "pair_id": pair_id, "value": value, "comment": comment,
                           "shown_left": shown_left, "picked": picked})
        return Vote(reviewer, pair_id, value, comment, shown_left, len(self.calls)), replaced


def _app(votes=None) -> tuple[A.App, Recorder]:
    rec = Recorder()
    return A.App(_review(), votes or {}, port=PORT, target="Tanaka", record=rec), rec


def _get(app: A.App, path: str, **headers) -> tuple[int, dict]:
    res = app.get(path, {"Host": f"127.0.0.1:{PORT}", **headers})
    return res.status, json.loads(res.body)


def _post(app: A.App, obj, headers=None) -> tuple[int, dict]:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    res = app.post("/api/vote", {**OK_HEADERS, **(headers or {})}, body)
    return res.status, json.loads(res.body)


def test_each_reviewer_gets_every_pair_once_in_an_order_and_sides_of_their_own():
    app, rec = _app()
    seen = []
    for _ in range(6):
        status, state = _get(app, "/api/pair?reviewer=ann")
        assert status == 200 and state["vote"] is None
        pair = state["pair"]
        item = app.review.item(pair["id"])
        assert {pair["left"], pair["right"]} == {item.a, item.b}
        assert set(pair) == {"id", "prompt", "left", "right"}, "nothing says which reply is tuned"
        status, res = _post(app, {"reviewer": "ann", "pair_id": pair["id"], "choice": "left"})
        assert status == 200 and res["stored"] == ("A" if pair["left"] == item.a else "B")
        seen.append(pair["id"])
    assert sorted(seen) == [f"p{i}" for i in range(6)]
    assert _get(app, "/api/pair?reviewer=ann")[1]["pair"] is None
    orders = {tuple(A.order(seen, who, 0)) for who in ("ann", "bob", "carol", "dave")}
    lefts = {A.shown_left(who, "p0", 0) for who in ("ann", "bob", "carol", "dave", "erin", "frank")}
    assert len(orders) > 1 and lefts == {"A", "B"}


def test_a_restart_resumes_from_the_stored_votes_and_shows_an_earlier_vote_on_its_side():
    first, rec = _app()
    pair = _get(first, "/api/pair?reviewer=ann")[1]["pair"]
    _post(first, {"reviewer": "ann", "pair_id": pair["id"], "choice": "right", "comment": "語尾"})
    stored = {("ann", c["pair_id"]): Vote("ann", c["pair_id"], c["value"], c["comment"], c["shown_left"], 1)
              for c in rec.calls}
    again, _ = _app(stored)  # a new server process reads the votes back from MLflow
    state = _get(again, "/api/pair?reviewer=ann")[1]
    assert state["done"] == 1 and state["index"] == 1 and state["pair"]["id"] != pair["id"]
    back = _get(again, "/api/pair?reviewer=ann&index=0")[1]
    assert back["pair"] == pair and back["vote"] == "right" and back["comment"] == "語尾"


def test_a_second_vote_goes_to_the_recorder_as_a_replacement():
    app, rec = _app()
    pid = _get(app, "/api/pair?reviewer=ann")[1]["pair"]["id"]
    assert _post(app, {"reviewer": "ann", "pair_id": pid, "choice": "left"})[1]["replaced"] is False
    status, res = _post(app, {"reviewer": "ann", "pair_id": pid, "choice": "cant_tell", "comment": None})
    assert status == 200 and res["replaced"] is True and res["stored"] == "cant_tell" and res["done"] == 1


@pytest.mark.parametrize(("body", "headers", "status", "words"), [
    (b"{}", {"Content-Type": "text/plain"}, 415, "application/json"),
    (b"\xff\xfe{}", {}, 400, "UTF-8"),
    (b'{"reviewer": "ann"', {}, 400, "not JSON"),
    (b"[" * 5000 + b"]" * 5000, {}, 400, "JSON"),
    (b"1" * 5000, {}, 400, "not JSON"),
    (b'["ann"]', {}, 400, "object"),
    (b'{"reviewer": "ann", "pair_id": "p0", "choice": "left", "extra": 1}', {}, 400, "unknown field"),
    (b'{"reviewer": "ann", "pair_id": "p0"}', {}, 400, "choice: missing"),
    (b'{"reviewer": 7, "pair_id": "p0", "choice": "left"}', {}, 400, "reviewer: expected a string"),
    (b'{"reviewer": "ann", "pair_id": "p0", "choice": "both"}', {}, 400, "choice: expected one of"),
    (b'{"reviewer": "\\ud800", "pair_id": "p0", "choice": "left"}', {}, 400, "lone surrogate"),
    (b'{"reviewer": "ann", "pair_id": "p0", "choice": "left", "comment": "x\\udfff"}', {}, 400, "lone surrogate"),
    (b'{"reviewer": "a\\u0000b", "pair_id": "p0", "choice": "left"}', {}, 400, "control"),
    (b'{"reviewer": "   ", "pair_id": "p0", "choice": "left"}', {}, 400, "empty"),
    (json.dumps({"reviewer": "a" * 65, "pair_id": "p0", "choice": "left"}).encode(), {}, 400, "longer than 64"),
    (json.dumps({"reviewer": "a", "pair_id": "p0", "choice": "left", "comment": "x" * 2001}).encode(), {}, 400, "2000"),
    (b'{"reviewer": "ann", "pair_id": "nope", "choice": "left"}', {}, 404, "not a pair"),
    (b'{"reviewer": "ann", "pair_id": "p0", "choice": "left"}', {"Host": "evil.example:8765"}, 403, "Host"),
    (b'{"reviewer": "ann", "pair_id": "p0", "choice": "left"}', {"Origin": "http://evil.example"}, 403, "cross-origin"),
    (b"x" * (MAX_BODY + 1), {}, 413, "larger"),
])
def test_a_bad_vote_is_refused_with_one_line_and_nothing_recorded(body, headers, status, words):
    app, rec = _app()
    got, res = _post(app, body, headers)
    assert got == status and words in res["error"] and "\n" not in res["error"] and set(res) == {"error"}
    assert rec.calls == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                 max_leaves=12).map(lambda o: json.dumps(o).encode()),
    st.fixed_dictionaries({"reviewer": st.text(max_size=70), "pair_id": st.sampled_from(["p0", "p5", "zz", ""]),
                           "choice": st.sampled_from(["left", "right", "cant_tell", "LEFT", ""])},
                          optional={"comment": st.none() | st.text(max_size=50) | st.integers()})
    .map(lambda o: json.dumps(o).encode()),
    # a lone surrogate escaped in an otherwise valid vote (a repeated key: JSON's last one wins)
    st.tuples(st.sampled_from(["reviewer", "pair_id", "comment"]), st.integers(0xD800, 0xDFFF))
    .map(lambda f: f'{{"reviewer": "ann", "pair_id": "p0", "choice": "left", "{f[0]}": "x\\u{f[1]:04x}"}}'.encode()),
), ctype=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]))
def test_any_post_body_gets_a_json_answer_never_a_traceback(body, ctype):
    app, rec = _app()
    res = app.post("/api/vote", {"Host": f"127.0.0.1:{PORT}", "Content-Type": ctype}, body)
    answer = json.loads(res.body)
    if res.status == 200:
        assert rec.calls and answer["stored"] in ("A", "B", "cant_tell")
        assert rec.calls[-1]["reviewer"].strip() and len(rec.calls[-1]["reviewer"]) <= 64
        rec.calls[-1]["reviewer"].encode("utf-8")
    else:
        assert 400 <= res.status < 500 and "\n" not in answer["error"] and not rec.calls


def test_gets_are_checked_too():
    app, _ = _app()
    assert _get(app, "/api/pair?reviewer=")[0] == 400
    assert _get(app, "/api/pair?reviewer=ann&index=99")[0] == 400
    assert _get(app, "/api/pair?reviewer=ann&index=-1")[0] == 400
    assert _get(app, "/api/nothing")[0] == 404
    assert _get(app, "/api/info", Host="attacker.example:8765")[0] == 403
    assert _get(app, "/api/info")[1] == {"target": "Tanaka", "total": 6, "kind": "tuned_vs_base"}
    page = app.get("/", {"Host": f"localhost:{PORT}"})
    assert page.status == 200 and b"/review.js" in page.body and page.content_type.startswith("text/html")


@pytest.fixture
def live():
    srv = server.make_server(0, lambda port: A.App(_review(), {}, port=port, target="T", record=Recorder()))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: s.recv(65536), b""))


def test_the_server_listens_on_loopback_and_refuses_a_body_before_reading_it(live):
    host = f"127.0.0.1:{live}".encode()
    huge = _raw(live, b"POST /api/vote HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 999999999\r\n\r\n{")
    assert huge.startswith(b"HTTP/1.0 413") and b'"error"' in huge
    chunked = _raw(live, b"POST /api/vote HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.0 411")
    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=10)
    conn.request("GET", "/api/info")
    res = conn.getresponse()
    assert res.status == 200 and res.getheader("Content-Security-Policy").startswith("default-src 'self'")
    assert res.getheader("X-Content-Type-Options") == "nosniff"


def test_a_body_that_never_arrives_frees_the_thread(live, monkeypatch):
    monkeypatch.setattr(server._Handler, "timeout", 1)
    host = f"127.0.0.1:{live}".encode()
    with socket.create_connection(("127.0.0.1", live), timeout=10) as s:
        s.sendall(b"POST /api/vote HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.0 408")
