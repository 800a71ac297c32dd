"""`rftlab prompts validate`: every problem with its line number, exit codes, function API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.prompts.validate import BEDROCK_RFT_LIMITS, Problem, validate_file


def rec(i: int, **kw) -> dict:
    r = {"messages": [{"role": "user", "content": f"質問 {i} です"}], "reference_answer": f"答え{i}でござる", "id": f"p{i}"}
    r.update(kw)
    return r


def write(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def bad_file(tmp_path):
    """99 records: a broken line (7), a wrong role (20), an empty content (33), a duplicate of line 1 (50)."""
    rows: list = [rec(i) for i in range(99)]
    rows[6] = '{"messages": [{"role": "user", "content": "壊れ'
    rows[19] = rec(19, messages=[{"role": "human", "content": "役割が違う"}])
    rows[32] = rec(32, messages=[{"role": "user", "content": "  "}])
    rows[49] = rec(49, messages=[{"role": "user", "content": "質問 0 です"}])
    return write(tmp_path / "bad.jsonl", rows)


def test_each_problem_reported_with_its_line(bad_file):
    problems = validate_file(bad_file, max_prompt_length=256)
    by_line = {(p.line, p.severity): p.message for p in problems}
    assert "invalid JSON" in by_line[(7, "error")]
    assert "invalid role 'human'" in by_line[(20, "error")]
    assert "empty content" in by_line[(33, "error")]
    assert by_line[(50, "warning")] == "duplicate prompt (first at line 1)"
    assert "99 records" in by_line[(99, "error")] and str(BEDROCK_RFT_LIMITS.min) in by_line[(99, "error")]
    assert len(problems) == 5


def test_cli_prints_file_line_and_exits_1(bad_file):
    res = CliRunner().invoke(app, ["prompts", "validate", bad_file, "--max-prompt-length", "256"])
    assert res.exit_code == 1
    out = res.output.splitlines()
    for line in (7, 20, 33, 50, 99):
        assert any(o.startswith(f"{bad_file}:{line}: ") for o in out), line
    assert out[-1] == f"{bad_file}: 99 records (train: no --split given), 4 errors, 1 warnings: FAILED"


def test_roles_order_and_content_types(tmp_path):
    rows = [rec(i) for i in range(100)]
    rows[0] = rec(0, messages=[{"role": "user", "content": "a"}, {"role": "system", "content": "late"}])
    rows[1] = rec(1, messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    rows[2] = rec(2, messages=[{"role": "user", "content": [{"type": "text", "text": "x"}]}])
    rows[3] = rec(3, messages=[])
    rows[4] = {"messages": [{"role": "user", "content": "参照なし"}]}
    rows[5] = rec(5, messages=[{"role": "user", "content": "長い" * 200}])
    rows[6] = [1, 2]
    rows[7] = rec(7, messages=[{"role": "user", "content": "前"}, {"role": "assistant", "content": "後"}, {"role": "user", "content": "次"}])
    p = write(tmp_path / "roles.jsonl", rows)
    got = {(x.line, x.severity, x.message) for x in validate_file(p, max_prompt_length=256)}
    assert (1, "error", "messages[1]: a system message may only come first") in got
    assert (1, "error", "the last message must be from the user, got 'system'") in got
    assert (2, "error", "the last message must be from the user, got 'assistant'") in got
    assert any(l == 3 and "text only" in m for l, s, m in got)
    assert (4, "error", "'messages' is empty") in got
    assert (5, "error", "missing reference_answer (the grader needs one)") in got
    assert any(l == 6 and "over maxPromptLength 256" in m for l, s, m in got)
    assert (7, "error", "expected a JSON object, got list") in got
    assert {(l, s) for l, s, m in got if l == 8} == {(8, "warning")}  # multi-turn: warned, not rejected
    soft = validate_file(p, max_prompt_length=256, require_reference=False)
    assert Problem(5, "warning", "missing reference_answer (the grader needs one)") in soft


def test_clean_file_exit_0_and_warnings_only_exit_0(tmp_path):
    clean = write(tmp_path / "train.jsonl", [rec(i) for i in range(100)])
    res = CliRunner().invoke(app, ["prompts", "validate", clean])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"{clean}: 100 records (train: no --split given), 0 errors, 0 warnings: ok"
    rows = [rec(i) for i in range(100)] + [rec(0, id="dup")]
    warn = write(tmp_path / "warn.jsonl", rows)
    res = CliRunner().invoke(app, ["prompts", "validate", warn])
    assert res.exit_code == 0 and f"{warn}:101: warning: duplicate prompt (first at line 1)" in res.output


def test_validation_split_has_no_minimum_and_not_utf8_is_a_line_error(tmp_path):
    val = write(tmp_path / "val.jsonl", [rec(i) for i in range(12)])
    res = CliRunner().invoke(app, ["prompts", "validate", val, "--split", "validation"])
    assert res.exit_code == 0 and f"{val}: 12 records (validation), 0 errors" in res.output
    res = CliRunner().invoke(app, ["prompts", "validate", val, "--split", "train"])
    assert res.exit_code == 1 and f"{val}:12: error: 12 records" in res.output
    raw = tmp_path / "latin1.jsonl"
    raw.write_bytes(json.dumps(rec(0)).encode() + b"\n" + b'{"x": "\xe9"}\n')
    assert any(p.line == 2 and p.message.startswith("not UTF-8") for p in validate_file(raw, training=False))


def test_missing_file_is_one_line_error(tmp_path):
    res = CliRunner().invoke(app, ["prompts", "validate", str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 2 and "file not found" in res.output


def test_record_count_upper_limits(tmp_path):
    from rftlab.prompts.validate import RecordLimits, validate_lines

    lines = [json.dumps(rec(i)).encode() for i in range(6)]
    small = RecordLimits(min=2, max=5, recommended_max=4)
    problems, n = validate_lines(lines, limits=small)
    assert n == 6 and [(p.line, p.severity) for p in problems] == [(6, "error")]
    problems, _ = validate_lines(lines[:5], limits=small)
    assert [(p.line, p.severity) for p in problems] == [(5, "warning")]


def test_the_file_name_never_decides_the_split(tmp_path):
    for name in ("val.jsonl", "validation_set.jsonl", "train.jsonl"):
        path = write(tmp_path / name, [rec(i) for i in range(12)])
        res = CliRunner().invoke(app, ["prompts", "validate", path])
        assert res.exit_code == 1, (name, res.output)
        assert f"{path}:12: error: 12 records; Bedrock RFT training data needs at least 100" in res.output
        assert res.output.splitlines()[-1] == f"{path}: 12 records (train: no --split given), 1 errors, 0 warnings: FAILED"


def test_token_estimate_counts_long_runs_not_just_words(tmp_path):
    from rftlab.prompts.text import estimate_tokens

    assert estimate_tokens("a" * 100_000) == 25_000          # one run: 4 UTF-8 bytes per token
    assert estimate_tokens("hello world this is a test") == 8  # six words: 4/3 token each
    assert estimate_tokens("https://example.com/a/b?c=d") == 7
    assert estimate_tokens("了解です、明日やります") == 11      # Japanese: one token per character, as before
    assert estimate_tokens("Lambda の設定") == 5
    rows = [rec(i) for i in range(100)]
    rows[3] = rec(3, messages=[{"role": "user", "content": "x" * 100_000}])
    path = write(tmp_path / "long.jsonl", rows)
    res = CliRunner().invoke(app, ["prompts", "validate", path, "--max-prompt-length", "1024", "--split", "train"])
    assert res.exit_code == 1
    assert f"{path}:4: error: prompt is about 25000 tokens, over maxPromptLength 1024" in res.output


@pytest.mark.parametrize(("line", "message"), [
    ('{"messages": [{"role": "user", "content": "q"}], "reference_answer": "a", "weight": NaN}',
     "invalid JSON: NaN is not a JSON number (Bedrock's JSON parser rejects it)"),
    ('{"messages": [{"role": "user", "content": "q"}], "reference_answer": {"score": -Infinity}}',
     "invalid JSON: -Infinity is not a JSON number (Bedrock's JSON parser rejects it)"),
    ('{"messages": [{"role": "user", "content": "broken \\ud83d here"}], "reference_answer": "a"}',
     "unpaired surrogate in messages[0].content (\\ud83d at character 7): not valid Unicode text"),
    ('{"messages": [{"role": "user", "content": "q"}], "reference_answer": "end\\udc00"}',
     "unpaired surrogate in reference_answer (\\udc00 at character 3): not valid Unicode text"),
])
def test_nan_and_unpaired_surrogates_are_errors_on_their_line(tmp_path, line, message):
    rows: list = [rec(i) for i in range(100)]
    rows[41] = line
    rows[42] = ('{"messages": [{"role": "user", "content": "a pair is fine: \\ud83d\\ude00, NaN in text"}], '
                '"reference_answer": "a", "id": "p42"}')
    path = write(tmp_path / "strict.jsonl", rows)
    res = CliRunner().invoke(app, ["prompts", "validate", path, "--split", "train"])
    assert res.exit_code == 1, res.output
    errors = [o for o in res.output.splitlines() if ": error: " in o]
    assert errors == [f"{path}:42: error: {message}" + ("" if "NaN" in message or "Infinity" in message
                                                        else " (Bedrock's JSON parser rejects it)")]
