"""`python -m rftlab.lockcheck`: a fresh dvc.lock against the committed one, output by output."""

from __future__ import annotations

import yaml

from rftlab.lockcheck import compare, main


def lock(**outs: str) -> dict:
    stages: dict = {}
    for path, md5 in outs.items():
        path = path.replace("__", "/")
        stages.setdefault(path.split("/")[1], {"outs": []})["outs"].append({"path": path, "md5": md5})
    return {"schema": "2.0", "stages": stages}


def test_same_data_passes_and_differing_reports_and_plots_are_only_reported(tmp_path):
    old = lock(data__interim__messages="a1", data__models__base="w1", reports__check="r1", plots__check="p1")
    new = lock(data__interim__messages="a1", data__models__base="w1", reports__check="r2", plots__check="p2")
    lines, bad = compare(old, new)
    assert bad == []
    assert any("reports/check" in line and "reported, not required" in line for line in lines)
    assert any("plots/check" in line and "reported, not required" in line for line in lines)
    (tmp_path / "old.lock").write_text(yaml.safe_dump(old))
    (tmp_path / "new.lock").write_text(yaml.safe_dump(new))
    assert main([str(tmp_path / "old.lock"), str(tmp_path / "new.lock")]) == 0


def test_a_differing_or_missing_data_product_weights_or_metric_fails_naming_it(tmp_path, capsys):
    old = lock(data__interim__messages="a1", data__grader__grader="g1", data__models__base="w1",
               metrics__evaluate="m1")
    new = lock(data__interim__messages="a2", data__models__base="w2", metrics__evaluate="m2")
    lines, bad = compare(old, new)
    assert sorted(bad) == ["data/grader/grader", "data/interim/messages", "data/models/base", "metrics/evaluate"]
    (tmp_path / "old.lock").write_text(yaml.safe_dump(old))
    (tmp_path / "new.lock").write_text(yaml.safe_dump(new))
    assert main([str(tmp_path / "old.lock"), str(tmp_path / "new.lock")]) == 1
    assert "4 output(s) differ" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.lock"), str(tmp_path / "new.lock")]) == 2
