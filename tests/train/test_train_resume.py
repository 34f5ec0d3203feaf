"""``kill -9`` in the middle of a run, then the same command again: the resumed run ends with
exactly the weights (and loss log) of a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pyarrow.parquet as pq
import torch

from cxralign.models.model import AlignmentModel

STEPS, KILL_AFTER_STEP, CHECKPOINT_EVERY = 20, 7, 3


def _command(tiny, settings_file, out, json_progress=True):
    return [sys.executable, "-m", "cxralign", "pretrain", "--recipe", "asg",
            "--config", str(tiny.recipe_config), "--settings", str(settings_file),
            "--seed", "3", "--data", str(tiny.data), "--out", str(out),
            *(["--json-progress"] if json_progress else [])]


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_sigkill_then_resume_equals_an_uninterrupted_run(tiny, tmp_path):
    settings = tiny.settings(steps=STEPS, checkpoint_every=CHECKPOINT_EVERY, augment=True)
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    straight = tmp_path / "straight"
    readable = subprocess.run(_command(tiny, settings_file, straight, json_progress=False),
                              env=env, check=True, capture_output=True, text=True)
    assert not _events(readable.stdout)  # a terminal user gets readable lines on stderr instead
    assert f"pretraining (steps): {STEPS}/{STEPS} (" in readable.stderr

    resumed = tmp_path / "resumed"
    process = subprocess.Popen(_command(tiny, settings_file, resumed), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "step" and event["step"] == KILL_AFTER_STEP:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not resumed.exists(), "the run finished before it was killed"
    checkpoints = tmp_path / ".resumed.checkpoints"
    assert (checkpoints / "latest").read_text().strip() == "step-0000006"

    second = subprocess.run(_command(tiny, settings_file, resumed), env=env, check=True,
                            capture_output=True, text=True)
    events = _events(second.stdout)
    assert [e["step"] for e in events if e["event"] == "resumed"] == [6]
    assert [e["step"] for e in events if e["event"] == "step"][0] == 7
    assert not checkpoints.exists()

    expected = AlignmentModel.load(straight).state_dict()
    actual = AlignmentModel.load(resumed).state_dict()
    assert expected.keys() == actual.keys()
    unequal = [name for name in expected if not torch.equal(expected[name], actual[name])]
    assert not unequal, unequal
    losses = [pq.read_table(d / "training_log.parquet").drop(["pairs_per_second"]).to_pylist()
              for d in (straight, resumed)]
    assert losses[0] == losses[1] and len(losses[0]) == STEPS
