"""The text subcommands, registered on a parser of our own (as cxralign.cli will)."""

from __future__ import annotations

import argparse
import shutil

import pyarrow.parquet as pq
import pytest

from cxralign.errors import run_handler
from cxralign.text.commands import register


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cxralign")
    register(parser.add_subparsers(dest="command", required=True))
    return run_handler(parser.parse_args(argv))


@pytest.mark.parametrize("command", ["triplets", "sections", "evaluate-text", "fit-text-calibrator"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        run([command, "--help"])
    assert exited.value.code == 0
    assert "usage: cxralign " + command in capsys.readouterr().out


def test_triplets_from_openi_xml_directory(shared_data, tmp_path, capsys):
    reports = tmp_path / "openi"
    reports.mkdir()
    for name in ("1.xml", "2.xml", "3.xml"):
        shutil.copy(shared_data / "iu_xray_reports" / name, reports / name)
    out = tmp_path / "triplets.parquet"
    assert run(["triplets", str(reports), "--out", str(out), "--backend", "rules"]) == 0
    table = pq.read_table(out)
    assert table.column_names == [
        "study_id", "sentence_index", "sentence", "region", "finding", "existence", "evidence", "cue",
    ]
    assert set(table.column("study_id").to_pylist()) <= {"1", "2", "3"}
    for row in table.to_pylist():
        assert row["evidence"] in row["sentence"]
    printed = capsys.readouterr().out
    assert "backend: rules" in printed and f"{table.num_rows} triplets" in printed
    # the report findings beside it: one row per positive (report, finding) of the triplets
    findings = pq.read_table(tmp_path / "triplets.findings.parquet").to_pylist()
    positive = {(r["study_id"], r["finding"]) for r in table.to_pylist()
                if r["existence"] in ("present", "uncertain")}
    assert {(r["study_id"], r["finding"]) for r in findings} == positive
    assert f"{len(findings)} positive (report, finding) pairs" in printed


def test_triplets_and_sections_from_mimic_tree_and_csv(tmp_path, capsys):
    tree = tmp_path / "files" / "p10" / "p10000032"
    tree.mkdir(parents=True)
    (tree / "s50414267.txt").write_bytes(
        "FINDINGS: Small left pleural effusion. Caf\xe9 sign.\nIMPRESSION: No pneumothorax.".encode("latin-1")
    )
    out = tmp_path / "t.parquet"
    assert run(["triplets", str(tmp_path / "files"), "--out", str(out)]) == 0
    rows = pq.read_table(out).to_pylist()
    assert {(r["study_id"], r["finding"], r["existence"]) for r in rows} == {
        ("s50414267", "pleural effusion", "present"), ("s50414267", "pneumothorax", "absent"),
    }
    manifest = tmp_path / "reports.csv"
    manifest.write_text('study_id,text\nA1,"FINDINGS: Heart is enlarged.\nIMPRESSION: Cardiomegaly."\nA2,\n')
    sections = tmp_path / "s.parquet"
    assert run(["sections", str(manifest), "--out", str(sections)]) == 0
    table = pq.read_table(sections).to_pylist()
    assert [(r["study_id"], r["findings"], r["impression"]) for r in table] == [
        ("A1", "Heart is enlarged.", "Cardiomegaly.")
    ]
    assert "rejected report_empty: 1" in capsys.readouterr().out


def test_stanza_backend_without_models_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STANZA_RESOURCES_DIR", str(tmp_path))
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("study_id,text\nA,No effusion.\n")
    assert run(["triplets", str(csv_file), "--out", str(tmp_path / "o.parquet"), "--backend", "stanza"]) == 2
    assert "radiology NER" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


def test_file_mode_names_each_rejected_report(shared_data, tmp_path, capsys):
    from cxralign.text.sections import parse_openi_xml

    xml = (shared_data / "iu_xray_reports" / "1003.xml").read_text(encoding="utf-8")
    findings = parse_openi_xml(xml).findings.replace('"', "'")
    rows = [("s1", findings), ("", findings), ("s1", findings), ("s2", findings)]
    csv_text = "study_id,text\n" + "".join(f'{sid},"{text}"\n' for sid, text in rows)
    source = tmp_path / "reports.csv"
    source.write_bytes(csv_text.encode("utf-16"))  # a UTF-16 export with its BOM
    out = tmp_path / "sections.parquet"
    assert run(["sections", str(source), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rejected row 2: study_id_missing" in printed
    assert "rejected row 3: study_id_duplicate" in printed
    assert pq.read_table(out).column("study_id").to_pylist() == ["s1", "s2"]
    assert pq.read_table(out).column("findings")[0].as_py() == findings
    rejected = pq.read_table(tmp_path / "sections.rejected.parquet").to_pylist()
    assert [(r["source_path_hash"], r["reason"]) for r in rejected] == [
        ("row 2", "study_id_missing"), ("row 3", "study_id_duplicate")]


def test_fit_text_calibrator_writes_a_model_evaluate_text_reads(iu_subset, tmp_path, capsys):
    reports, model = iu_subset(300), tmp_path / "calibration.json"
    assert run(["fit-text-calibrator", str(reports), "--split", "all", "--folds", "3",
                "--out", str(model)]) == 0
    summary = capsys.readouterr().out
    assert "| rules + calibrator |" in summary and "present" in summary
    assert run(["evaluate-text", str(reports), "--calibrator", str(model)]) == 0
    assert "calibrated second stage" in capsys.readouterr().out


def test_evaluate_text_names_a_calibrator_file_it_cannot_use(iu_subset, tmp_path, capsys):
    old = tmp_path / "session13.json"  # written before the support guard existed
    old.write_text('{"features": ["present"], "coefficients": [1.0], "intercept": 0.0, '
                   '"threshold": 0.5}', encoding="utf-8")
    assert run(["evaluate-text", str(iu_subset(3)), "--calibrator", str(old)]) == 2
    error = capsys.readouterr().err
    assert "no support, min_support" in error and "fit-text-calibrator" in error
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert run(["evaluate-text", str(iu_subset(4)), "--calibrator", str(broken)]) == 2
    assert "--calibrator" in capsys.readouterr().err


def test_triplets_use_the_calibrator_they_are_given(iu_subset, tmp_path, capsys,
                                                    calibrator_indexing_nothing):
    reports = iu_subset(20)
    out = tmp_path / "t.parquet"
    assert run(["triplets", str(reports), "--out", str(out),
                "--calibrator", str(calibrator_indexing_nothing)]) == 0
    findings = pq.read_table(tmp_path / "t.findings.parquet").column("indexed").to_pylist()
    assert findings and not any(findings)
    capsys.readouterr()
    assert run(["triplets", str(reports), "--out", str(out),
                "--calibrator", str(tmp_path / "missing.json")]) == 2
    assert "missing.json not found" in capsys.readouterr().err
