"""Headline metrics (the few committed numbers per stage) and progress output (bar on a terminal,
a line a minute elsewhere)."""

from __future__ import annotations

import io
import json

import pytest

from rftlab.headline import HEADLINE, headline, write_headline
from rftlab.progress import bar


def test_headline_keeps_a_handful_of_numbers_and_drops_detail_timings_and_non_numbers():
    detail = {
        "messages_kept": 3602, "messages_dropped": 92.0, "users_kept": 5, "channels_kept": 4, "messages_with_pii": 104,
        "per_user": {"U01": {"kept": 1271}}, "pii_scrubbed": {"email": 45}, "seconds": 12.3, "day_files": 883,
    }
    out = headline("ingest", detail)
    assert out == {"messages_kept": 3602, "messages_dropped": 92, "users_kept": 5, "channels_kept": 4,
                   "messages_with_pii": 104}
    assert isinstance(out["messages_dropped"], int)  # a whole float prints as an integer


def test_headline_reads_nested_and_slashed_keys_rounds_and_skips_missing_or_nan():
    prompts = headline("prompts", {"train": 714, "val": 126, "lengths": {"train": {"prompt_tokens": {"mean": 30.7512345}}}})
    assert prompts == {"train": 714, "val": 126, "prompt_tokens_mean": 30.751234}
    ev = headline("evaluate", {"eval/base_mean": 0.3629, "eval/tuned_mean": 0.734, "eval/uplift_pct": float("nan"),
                               "eval/win_rate": 0.97, "job_id": "rft-local-1"})
    assert ev == {"base_mean": 0.3629, "tuned_mean": 0.734, "win_rate": 0.97}
    assert headline("check", {"passed": True, "heldout_auc": 0.99})["passed"] is True
    assert all(len(names) <= 7 for names in HEADLINE.values())


def test_write_headline_writes_sorted_json_and_unknown_stage_is_refused(tmp_path):
    path = tmp_path / "metrics" / "rft.json"
    write_headline(path, "rft", {"val_reward_final": 0.75, "steps": 30.0, "duration_min": 0.8, "cost_usd": 0.0})
    assert json.loads(path.read_text()) == {"val_reward_final": 0.75, "steps": 30}
    with pytest.raises(ValueError, match="no headline metrics for stage 'nosuch'"):
        headline("nosuch", {})


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_off_a_terminal_prints_whole_lines_not_every_update():
    out = _Stream(tty=False)
    with bar(500, desc="calibrate", unit="trial", stream=out) as shown:
        for _ in range(500):
            shown.update()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert 1 <= len(lines) <= 3  # the start, the end: 500 quick updates are not 500 lines
    assert lines[-1].startswith("calibrate") and "500/500" in lines[-1]


def test_progress_on_a_terminal_redraws_in_place_and_quiet_prints_nothing():
    tty = _Stream(tty=True)
    with bar(3, desc="evaluate", unit="prompt", stream=tty) as shown:
        for _ in range(3):
            shown.update()
    assert "\r" in tty.getvalue() and "3/3" in tty.getvalue()
    quiet = _Stream(tty=True)
    with bar(3, desc="evaluate", stream=quiet, enabled=False) as shown:
        shown.update(3)
    assert quiet.getvalue() == ""
