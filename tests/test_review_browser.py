"""The review page in a real browser: Debian's chromium driven by Playwright (its own browser download
does not work offline). The test starts `rftlab review` on 127.0.0.1, votes on 12 pairs with clicks and
keys, reloads half-way, changes one vote, stops the server, and finds exactly those votes in MLflow.
Without chromium it skips, except in CI (`CI=true`), where .ci/run installs it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import review_support as RS

from rftlab import contracts, tracking

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
RFTLAB = Path(sys.executable).with_name("rftlab")
NAME = "Ann Example"
PAIRS = 12


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} not found (apt-get install -y chromium fonts-ipafont-gothic)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the review page's browser test is required in CI: {why}")
        pytest.skip(why)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (make setup)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def review_server(tmp_path):
    """`rftlab review` on a free port of 127.0.0.1, in its own process group; stopped with Ctrl-C (SIGINT)."""
    run_id = RS.evaluation_run("review-browser", n=PAIRS + 3)
    proc = subprocess.Popen([str(RFTLAB), "review", "--run", run_id, "--port", "0", "--pairs", str(PAIRS),
                             "--target", "拙者さん", "--experiment", "review-browser"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    url, seen = None, []
    try:
        while url is None:
            line = lines.get(timeout=240)
            seen.append(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        yield run_id, url
    except queue.Empty:
        pytest.fail("rftlab review printed no URL:\n" + "".join(seen))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
    assert code == 0, "".join(seen)


def _wait_progress(page, done: int) -> None:
    # a locator assertion, not wait_for_function: the page's CSP forbids evaluating strings
    from playwright.sync_api import expect

    expect(page.locator("#progress-text")).to_have_text(f"{done} of {PAIRS} voted", timeout=90_000)


def _vote(page, k: int) -> tuple[str, str]:
    """Vote on the shown pair, by click or key; returns (choice, comment)."""
    comment = "どちらも本人っぽい" if k == 2 else ""
    if comment:
        page.keyboard.press("c")
        page.keyboard.type(comment)
        page.keyboard.press("Escape")
    how = [("left", lambda: page.click("#left")), ("right", lambda: page.keyboard.press("2")),
           ("cant_tell", lambda: page.click("#cant-tell")), ("left", lambda: page.keyboard.press("ArrowLeft")),
           ("right", lambda: page.click("#right")), ("cant_tell", lambda: page.keyboard.press("3"))][k % 6]
    how[1]()
    return how[0], comment


def test_votes_cast_in_the_browser_are_exactly_the_feedback_in_mlflow(browser, review_server):
    run_id, url = review_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(90_000)
    page.goto(url)
    assert "拙者さん" in page.inner_text("#question")
    page.fill("#name", NAME)
    page.press("#name", "Enter")
    shown: dict[str, dict] = {}  # prompt -> what the page showed and what was picked
    for k in range(PAIRS):
        _wait_progress(page, k)
        if k == 6:  # resumable: a reload asks no name and lands on the first pair not voted yet
            page.reload()
            _wait_progress(page, k)
            assert page.is_hidden("#name-form")
        prompt = page.inner_text("#prompt")
        assert prompt not in shown, "a voted pair came back"
        left, right = page.inner_text("#left-text"), page.inner_text("#right-text")
        choice, comment = _vote(page, k)
        shown[prompt] = {"left": left, "right": right, "choice": choice, "comment": comment}
    _wait_progress(page, PAIRS)
    assert page.is_visible("#done")

    page.keyboard.press("b")  # back to the last pair: its vote is shown, and a new one replaces it
    page.wait_for_selector("#pair:not([hidden])")
    prompt = page.inner_text("#prompt")
    was = shown[prompt]["choice"]
    assert page.get_attribute(f"[data-choice='{was}']", "aria-pressed") == "true"
    new = "right" if was != "right" else "left"
    page.keyboard.press({"left": "1", "right": "2"}[new])
    page.wait_for_selector("#done:not([hidden])")
    shown[prompt]["choice"] = new
    changed = prompt

    traces = {t.inputs["prompt"]: t for t in tracking.run_traces(run_id, {contracts.REVIEW: "tuned_vs_base"})}
    assert len(traces) == PAIRS and set(shown) == set(traces)
    votes = tracking.feedbacks(run_id, {contracts.REVIEW: "tuned_vs_base"}, contracts.REVIEW_ANSWER)
    assert len(votes) == PAIRS and {(v.source_type, v.source_id) for v in votes} == {("HUMAN", NAME)}
    by_trace = {v.trace_id: v for v in votes}
    for prompt, seen in shown.items():
        trace = traces[prompt]
        vote = by_trace[trace.trace_id]
        left = vote.metadata["shown_left"]
        right = "B" if left == "A" else "A"
        assert trace.outputs[left] == seen["left"] and trace.outputs[right] == seen["right"]
        assert vote.value == {"left": left, "right": right, "cant_tell": "cant_tell"}[seen["choice"]]
        assert vote.metadata["picked"] == seen["choice"] and vote.metadata["pair_id"] == trace.tags[contracts.PAIR_ID]
        assert (vote.rationale or "") == seen["comment"]
    mlflow = tracking.mlflow_api()
    on_changed = mlflow.get_trace(traces[changed].trace_id).info.assessments
    assert len(on_changed) == 1, "a changed vote must replace the first one, not stack"
