"""``cxralign generate run`` and ``cxralign explain`` end to end, and their usage errors: one
line on stderr, exit status 2, before any model is loaded."""

from __future__ import annotations

import json

import pytest

from cxralign.cli import main


def test_train_prints_every_row_and_saves(gen_catalog, encoder_dir, tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "train", "--data", str(gen_catalog.root), "--encoder",
                 str(encoder_dir), "--out", str(out), "--steps", "5"]) == 0
    printed = capsys.readouterr().out
    for row in ("generator:", "nearest_neighbour:", "most_frequent:", "chance:"):
        assert row in printed
    assert "ce_f1_micro" in printed and (out / "generator.json").is_file()


def test_run_writes_json_lines(gen_catalog, generator_dir, tmp_path, capsys):
    out = tmp_path / "reports.jsonl"
    assert main(["generate", "run", "--model", str(generator_dir), "--data",
                 str(gen_catalog.root), "--out", str(out), "--limit", "3"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(r["report"] and r["study_id"] for r in rows)
    assert "wrote 3 reports" in capsys.readouterr().out


def test_explain_writes_png(gen_catalog, generator_dir, tmp_path, capsys):
    study = gen_catalog.read_table("images")["study_id"][0].as_py()
    out = tmp_path / "study.png"
    assert main(["explain", study, "--model", str(generator_dir), "--data",
                 str(gen_catalog.root), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "similarity" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["generate", "run", "--model", "{missing}", "--out", "{tmp}/r.jsonl"],
     "--model {missing} does not exist"),
    (["generate", "run", "--model", "{tmp}", "--out", "{tmp}/r.jsonl"],
     "holds no generator.json"),
    (["explain", "s1", "--model", "{missing}", "--out", "{tmp}/e.png"],
     "--model {missing} does not exist"),
    (["generate", "train", "--encoder", "{missing}"], "--encoder {missing} does not exist"),
    (["generate", "train", "--encoder", "{tmp}", "--steps", "0"], "--steps: input should be"),
])
def test_usage_errors_are_one_line(argv, message, tmp_path, capsys):
    values = {"missing": str(tmp_path / "absent"), "tmp": str(tmp_path)}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message.format(**values) in err


def test_unknown_study_is_a_usage_error(gen_catalog, generator_dir, tmp_path, capsys):
    assert main(["explain", "no-such-study", "--model", str(generator_dir), "--data",
                 str(gen_catalog.root), "--out", str(tmp_path / "x.png")]) == 2
    assert "no image of study no-such-study" in capsys.readouterr().err
