"""Prompt-set building: pairing rules, filters, context budget, split by thread and time, CLI + MLflow."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rftlab import contracts
from rftlab.cli import app
from rftlab.config import PromptsParams
from rftlab.prompts.build import build_prompt_set
from rftlab.prompts.pairs import find_pairs
from rftlab.prompts.split import split_by_unit
from rftlab.prompts.validate import validate_file

T = "U01CTO"
T0 = 1_736_130_000.0


def msg(i, user, text, ts, channel="C1", thread_ts=None, **extra):
    m = {"id": f"m{i}", "user": user, "text": text, "ts": f"{ts:.6f}", "channel": channel}
    if thread_ts is not None:
        m["thread_ts"] = f"{thread_ts:.6f}"
    m.update(extra)
    return m


def threads(n, *, start=0, channel="C1"):
    """n threads: a colleague asks, the target answers in the thread, the colleague thanks him."""
    out = []
    for k in range(start, start + n):
        t = T0 + k * 3600
        out.append(msg(f"{k}a", f"U{k % 5}", f"質問その{k}です。デプロイの手順を教えてください", t, channel, thread_ts=t))
        out.append(msg(f"{k}b", T, f"回答その{k}でござる。手順書を見るでござる", t + 60, channel, thread_ts=t))
        out.append(msg(f"{k}c", f"U{k % 5}", f"ありがとうございます{k}", t + 120, channel, thread_ts=t))
    return out


def cfg(**kw) -> PromptsParams:
    return PromptsParams(**kw)


def test_thread_rule_answers_latest_unanswered_message():
    t = T0
    ms = [
        msg(1, "UA", "親メッセージ", t, thread_ts=t),
        msg(2, "UB", "補足の質問です", t + 10, thread_ts=t),
        msg(3, T, "答えでござる", t + 20, thread_ts=t),
        msg(4, T, "追記でござる", t + 30, thread_ts=t),  # follow-up: no new prompt
        msg(5, "UA", "別件です", t + 40, thread_ts=t),
        msg(6, T, "別件の答えでござる", t + 50, thread_ts=t),
    ]
    pairs = find_pairs(ms, T, reply_window_min=30)
    assert [(p.prompt["id"], p.reply["id"], p.source) for p in pairs] == [("m2", "m3", "thread"), ("m5", "m6", "thread")]
    assert [m["id"] for m in pairs[1].context] == ["m1", "m2", "m3", "m4"]


def test_parent_is_prompt_when_target_replies_first():
    ms = [msg(1, "UA", "親です", T0, thread_ts=T0), msg(2, T, "返事でござる", T0 + 5, thread_ts=T0)]
    (pair,) = find_pairs(ms, T, reply_window_min=0)
    assert (pair.prompt["id"], pair.reply["id"], pair.thread_ts) == ("m1", "m2", f"{T0:.6f}")


def test_channel_window_rule():
    ms = [
        msg(1, "UA", "誰か分かりますか", T0),
        msg(2, T, "拙者が見るでござる", T0 + 29 * 60),  # within 30 min: a pair
        msg(3, "UB", "遅い質問", T0 + 3600),
        msg(4, T, "遅い返事でござる", T0 + 3600 + 31 * 60),  # 31 min: too late
        msg(5, "UC", "別チャンネル", T0 + 10, channel="C2"),
        msg(6, "UD", "割り込み", T0 + 20, channel="C2"),
        msg(7, T, "返事でござる", T0 + 30, channel="C2"),  # answers m6 (next), not m5
    ]
    pairs = find_pairs(ms, T, reply_window_min=30)
    assert sorted((p.prompt["id"], p.reply["id"]) for p in pairs) == [("m1", "m2"), ("m6", "m7")]
    assert all(p.source == "channel" for p in pairs)
    assert find_pairs(ms, T, reply_window_min=0) == []  # 0 disables the channel rule
    assert len(find_pairs(ms, T, reply_window_min=32)) == 3


def test_thread_reply_not_paired_again_by_channel_rule():
    ms = [
        msg(1, "UA", "質問です", T0, thread_ts=T0),
        msg(2, T, "スレッドで答えるでござる", T0 + 5, thread_ts=T0),
        msg(3, T, "チャンネルにも書くでござる", T0 + 10),
    ]
    pairs = find_pairs(ms, T, reply_window_min=30)
    assert [(p.prompt["id"], p.reply["id"]) for p in pairs] == [("m1", "m2")]


def test_records_have_the_contract_fields_and_system_prompt():
    ms = threads(3)
    for m in ms:
        m["channel_purpose"] = "開発の相談"
    out = build_prompt_set(ms, T, cfg(system_prompt="あなたはCTOです", use_channel_purpose=True, val_fraction=0.3), max_prompt_length=256)
    rec = (out.train + out.val)[0]
    assert set(rec) >= {"messages", "reference_answer", "channel", "thread_ts", "prompt_user", "id"}
    assert rec["messages"][0] == {"role": "system", "content": "あなたはCTOです\n\n開発の相談"}
    assert rec["messages"][-1]["role"] == "user" and rec["reference_answer"].endswith("でござる")
    assert rec["prompt_user"] != T


def test_dedupe_by_normalised_text_keeps_first():
    ms = threads(2)
    ms[3]["text"] = "  質問その0です。デプロイの手順を教えてください "  # same as thread 0 after strip
    ms.append(msg("x", "UZ", "ＡＢＣ  ｄｅｆ", T0 + 9000, thread_ts=T0 + 9000))
    ms.append(msg("y", T, "はいでござる", T0 + 9001, thread_ts=T0 + 9000))
    ms.append(msg("z", "UZ", "abc def", T0 + 9900, thread_ts=T0 + 9900))
    ms.append(msg("w", T, "またでござる", T0 + 9901, thread_ts=T0 + 9900))
    out = build_prompt_set(ms, T, cfg(val_fraction=0.3), max_prompt_length=256)
    ids = sorted(r["id"] for r in out.train + out.val)
    assert ids == ["m0a", "mx"]
    assert out.dropped["duplicate"] == 2


def test_length_pii_and_token_filters():
    ms = [
        msg(1, "UA", "短", T0, thread_ts=T0), msg(2, T, "はいでござる", T0 + 1, thread_ts=T0),
        msg(3, "UB", "あ" * 50, T0 + 10, thread_ts=T0 + 10), msg(4, T, "長いでござる", T0 + 11, thread_ts=T0 + 10),
        msg(5, "UC", "連絡先は taro@example.com です", T0 + 20, thread_ts=T0 + 20), msg(6, T, "了解でござる", T0 + 21, thread_ts=T0 + 20),
        msg(7, "UD", "電話は 090-1234-5678 まで", T0 + 30, thread_ts=T0 + 30), msg(8, T, "了解でござる", T0 + 31, thread_ts=T0 + 30),
        msg(9, "UE", "消せなかった個人情報あり", T0 + 40, thread_ts=T0 + 40, pii_unclean=True), msg(10, T, "了解でござる", T0 + 41, thread_ts=T0 + 40),
        msg(11, "UF", "い" * 30, T0 + 50, thread_ts=T0 + 50), msg(12, T, "ちょうどでござる", T0 + 51, thread_ts=T0 + 50),
        msg(13, "UG", "う" * 20, T0 + 60, thread_ts=T0 + 60), msg(14, T, "   ", T0 + 61, thread_ts=T0 + 60),
        msg(15, "UH", "<EMAIL> に送りました", T0 + 70, thread_ts=T0 + 70), msg(16, T, "承知でござる", T0 + 71, thread_ts=T0 + 70),
    ]
    out = build_prompt_set(ms, T, cfg(min_chars=2, max_chars=40, val_fraction=0.2), max_prompt_length=25)
    assert dict(out.dropped) == {"too_short": 1, "too_long": 1, "pii": 3, "over_max_prompt_length": 1, "empty_reference": 1}
    assert [r["id"] for r in out.train + out.val] == ["m15"]  # a scrubbed marker is clean


def test_context_respects_token_budget():
    t = T0
    ms = [msg(i, "UA" if i % 2 else "UB", f"発言{i}" + "あ" * 8, t + i, thread_ts=t) for i in range(1, 8)]
    ms.append(msg(99, T, "まとめでござる", t + 100, thread_ts=t))
    # each context line costs 14 estimated tokens (10 CJK + ceil(2 words / 0.75) + 1 newline)
    for budget, expected_lines in ((0, 0), (13, 0), (14, 1), (28, 2), (1000, 6)):
        out = build_prompt_set(ms, T, cfg(context_tokens=budget, val_fraction=0.5), max_prompt_length=1000)
        (rec,) = out.train + out.val
        content = rec["messages"][-1]["content"]
        assert content.endswith("発言7" + "あ" * 8)
        lines = content.split("\n\n")[0].splitlines() if "\n\n" in content else []
        assert len(lines) == expected_lines, (budget, content)
        if lines:
            assert lines[-1] == "UB: 発言6" + "あ" * 8  # the latest earlier message comes last
    # maxPromptLength caps the context too: prompt (12 tokens) + 2 + one line (14)
    for limit, expected_lines in ((27, 0), (28, 1)):
        out = build_prompt_set(ms, T, cfg(context_tokens=1000, val_fraction=0.5), max_prompt_length=limit)
        content = (out.train + out.val)[0]["messages"][-1]["content"]
        assert content.count("\n\n") == expected_lines


def test_split_keeps_threads_whole_and_validation_latest():
    ms = threads(40)
    # extra thread activity: two prompts in one thread must share a side
    t = T0 + 5 * 3600
    ms += [msg("e1", "U9", "もう一つ質問です", t + 300, thread_ts=t), msg("e2", T, "それも答えるでござる", t + 400, thread_ts=t)]
    out = build_prompt_set(ms, T, cfg(val_fraction=0.25), max_prompt_length=256)
    tr = {(r["channel"], r["thread_ts"]) for r in out.train}
    va = {(r["channel"], r["thread_ts"]) for r in out.val}
    assert tr and va and not tr & va
    assert max(float(r["thread_ts"]) for r in out.train) < min(float(r["thread_ts"]) for r in out.val)
    assert len(out.val) == 10 and len(out.train) == 31


def test_split_is_seeded_without_times():
    items = [(f"u{i % 20}", i) for i in range(100)]
    a = split_by_unit(items, unit=lambda x: x[0], time=lambda x: None, val_fraction=0.2, seed=1)
    b = split_by_unit(items, unit=lambda x: x[0], time=lambda x: None, val_fraction=0.2, seed=1)
    c = split_by_unit(items, unit=lambda x: x[0], time=lambda x: None, val_fraction=0.2, seed=2)
    assert a == b and a != c
    assert len(a[1]) == 20 and not {u for u, _ in a[0]} & {u for u, _ in a[1]}


def write_messages(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_cli_build_writes_outputs_and_logs_mlflow_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RFTLAB_PARAMS", raising=False)
    (tmp_path / "params.yaml").write_text("prompts:\n  val_fraction: 0.2\n", encoding="utf-8")
    src = write_messages(tmp_path / "m.jsonl", threads(130))
    runner = CliRunner()
    res = runner.invoke(app, ["prompts", "build", "--messages", str(src), "--author", T, "--out-dir", "out"])
    assert res.exit_code == 0, res.output
    train, val = tmp_path / "out/train.jsonl", tmp_path / "out/val.jsonl"
    first = (train.read_bytes(), val.read_bytes())
    metrics = json.loads((tmp_path / "metrics/prompts.json").read_text())
    assert metrics["train"] == 104 and metrics["val"] == 26 and metrics["dropped"]["duplicate"] == 0
    assert (tmp_path / "plots/prompts/lengths.png").stat().st_size > 1000
    assert (tmp_path / "plots/prompts/lengths.csv").read_text().startswith("tokens,train,val,prompts\n")
    assert validate_file(train, max_prompt_length=256) == []
    assert [p for p in validate_file(val, max_prompt_length=256, training=False)] == []

    from rftlab import tracking
    from rftlab.io import file_md5

    (run,) = tracking.find_runs(contracts.KIND, "prompts")[:1]
    assert run.data.tags["prompts.train_digest"] == file_md5(train)
    assert run.data.params["prompts.val_digest"] == file_md5(val)
    assert run.data.metrics["train"] == 104
    contexts = {i.tags[0].value for i in run.inputs.dataset_inputs}
    assert contexts == {"training", "validation"}

    res = runner.invoke(app, ["prompts", "build", "--messages", str(src), "--author", T, "--out-dir", "out", "--no-track"])
    assert res.exit_code == 0 and (train.read_bytes(), val.read_bytes()) == first  # deterministic bytes


def test_cli_build_bad_input_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"id": "1", "user": "U", "text": "x"}\n{broken\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["prompts", "build", "--messages", str(bad), "--author", T, "--no-track"])
    assert res.exit_code == 2 and "m.jsonl:2: invalid JSON" in res.output
    ok = write_messages(tmp_path / "ok.jsonl", threads(2))
    res = CliRunner().invoke(app, ["prompts", "build", "--messages", str(ok), "--author", "UNOBODY", "--no-track"])
    assert res.exit_code == 2 and "no message by author 'UNOBODY'" in res.output
    no_threads = write_messages(tmp_path / "flat.jsonl", [{"id": str(i), "user": T if i % 2 else "UA", "text": "本文です"} for i in range(6)])
    res = CliRunner().invoke(app, ["prompts", "build", "--messages", str(no_threads), "--author", T, "--no-track"])
    assert res.exit_code == 2 and "no usable prompts (0 replies" in res.output
    assert not (tmp_path / "data/prompts/train.jsonl").exists()
    few = write_messages(tmp_path / "few.jsonl", threads(10))
    res = CliRunner().invoke(app, ["prompts", "build", "--messages", str(few), "--author", T, "--no-track"])
    assert res.exit_code == 0 and "below Bedrock's minimum of 100" in res.output


def test_float_and_string_timestamps_match():
    ms = [
        {"id": "1", "user": "UA", "text": "質問です", "ts": 1736137109.002312, "channel": "C"},
        {"id": "2", "user": T, "text": "答えでござる", "ts": "1736137200.000100", "thread_ts": "1736137109.002312", "channel": "C"},
    ]
    (pair,) = find_pairs(ms, T, reply_window_min=0)
    assert (pair.prompt["id"], pair.thread_ts) == ("1", "1736137109.002312")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.tuples(st.integers(0, 15), st.one_of(st.none(), st.floats(0, 1e6))), min_size=1, max_size=60),
    frac=st.floats(0.05, 0.9),
    seed=st.integers(0, 3),
)
def test_split_never_shares_a_unit(units, frac, seed):
    train, val = split_by_unit(units, unit=lambda x: x[0], time=lambda x: x[1], val_fraction=frac, seed=seed)
    assert sorted(map(repr, train + val)) == sorted(map(repr, units))
    assert not {u for u, _ in train} & {u for u, _ in val}
    if len({u for u, _ in units}) > 1:
        assert train  # training is never left empty
