"""``cxralign pretrain`` leaves the lineage record a Dagster run leaves, so ``cxralign audit``
explains a model trained from the command line."""

from __future__ import annotations

from cxralign.cli import main
from cxralign.lineage.records import iter_records
from cxralign.train.lineage import ASSET, TRAINING_INPUTS


def test_cli_run_writes_a_record_audit_follows(tiny, tmp_path, capsys):
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(tiny.settings(steps=2).model_dump_json(), encoding="utf-8")
    out = tmp_path / "model"
    assert main(["pretrain", "--recipe", "asg", "--config", str(tiny.recipe_config),
                 "--settings", str(settings_file), "--seed", "4", "--data", str(tiny.data),
                 "--out", str(out)]) == 0
    assert "lineage record" in capsys.readouterr().err

    # The catalog is shared with the asset's test, whose Dagster run records the same asset.
    records = [r for r in iter_records(tiny.data)
               if r.asset == ASSET and r.run_id.startswith("cli-")]
    assert len(records) == 1
    record = records[0]
    assert record.config["seeds"] == [4] and record.config["command"] == "cxralign pretrain"
    assert record.partition == "asg|4"  # the Dagster asset's recipe × seed partition key
    assert [o.path for o in record.outputs] == [out.resolve().as_posix()]
    read = {ref.asset for ref in record.inputs}
    assert read == set(TRAINING_INPUTS)
    assert all(ref.files and all(f.md5 for f in ref.files) for ref in record.inputs)

    assert main(["audit", str(out), "--data", str(tiny.data)]) == 0
    printed = capsys.readouterr().out
    assert ASSET in printed and record.run_id in printed and record.data_version in printed
