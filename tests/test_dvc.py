"""DVC: the pipeline file, its parameters, the hashes lineage computes without DVC, and the real
``dvc`` tool rebuilding, caching, pushing and pulling the chain on a tiny phantom batch.

DVC lives in its own tool environment (``make dvc`` → ``.venv-dvc``; ``CXRALIGN_DVC`` points
elsewhere). Tests that need the tool skip with that message when it is absent; ``make test``
builds it first, so CI runs them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cxralign.anatomy.settings import AnatomySettings
from cxralign.eval.settings import EvaluationSettings
from cxralign.generate.settings import GeneratorSettings
from cxralign.generate.workflow import DEFAULT_RECIPE
from cxralign.io.ingest import IngestSettings
from cxralign.lineage.dvc import DVC_ENV_VAR, commit_stages, dvc_executable, dvc_md5
from cxralign.synthetic.settings import SynthesisSettings
from cxralign.text.settings import TextSettings
from cxralign.train.settings import PretrainSettings

REPO = Path(__file__).resolve().parents[1]
STAGES = ["io", "text", "anatomy_detector", "anatomy", "pairs", "train", "eval", "generate"]
"""One stage per asset group (and folder), in chain order; the detector is its own stage."""
BATCH = "synthetic-seed1-n8"
# Small enough for two shared cores: 8 studies at 64 px (seed 1 puts one image in the test split
# that evaluation needs), one detector training step, two pre-training steps.
TINY_PARAMS = {
    "synthetic": {"studies": 8, "seed": 1, "max_side": 256},
    "ingest": {"staged_size": 64},
    "text": {"backend": "rules", "calibrator": ""},
    "anatomy": {"synthetic_studies": 8, "epochs": 1, "input_size": 32, "backbone": "resnet10t",
                "seed": 0, "min_score": 0.5},
    "pretrain": {"recipes": ["asg"], "seeds": [0], "image_size": 32, "image_output_stride": 16,
                 "epochs": 1, "steps": 2,
                 "batch_size": 4, "learning_rate": 0.0005},
    "evaluate": {"recipes": ["asg"]},
    "generate": {"recipe": "asg", "encoder_seed": 0, "epochs": 1, "seed": 0},
}
QUIET_ENV = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1", "OMP_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# --- the pipeline file and its parameters (no DVC needed) ---------------------------------

def test_dvc_yaml_declares_every_stage_of_the_contract():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(stages) == STAGES
    for name, stage in stages.items():
        commands = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
        assert all(command.startswith("cxralign ") for command in commands), name
        assert stage["outs"], f"{name} declares no outputs"


def test_each_dvc_stage_is_an_asset_group_and_a_folder():
    from cxralign_pipeline.definitions import defs

    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    folders = {p.name for p in (REPO / "cxralign_pipeline" / "defs").iterdir()
               if p.is_dir() and not p.name.startswith("_")}
    stages = set(STAGES) - {"anatomy_detector"}
    assert stages <= groups and stages <= folders
    assert "anatomy_detector" in {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}


def test_params_equal_the_library_defaults():
    """One source of truth: params.yaml repeats the settings classes' defaults, so `dvc repro`
    builds what `make demo` builds."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, settings in (("synthetic", SynthesisSettings()), ("ingest", IngestSettings()),
                              ("text", TextSettings()), ("anatomy", AnatomySettings())):
        for key, value in params[section].items():
            assert value == getattr(settings, key), f"params.yaml {section}.{key}"
    pretrain = PretrainSettings()
    assert params["pretrain"].pop("recipes") == pretrain.recipes()
    for key, value in params["pretrain"].items():
        assert value == getattr(pretrain, key), f"params.yaml pretrain.{key}"
    assert params["evaluate"] == {"recipes": EvaluationSettings().recipes}
    generate = GeneratorSettings()
    assert params["generate"] == {"recipe": DEFAULT_RECIPE, "encoder_seed": 0,
                                  "epochs": generate.epochs, "seed": generate.seed}


def test_the_default_batch_name_is_the_one_dagster_generates():
    from cxralign_pipeline.defs.io.assets import embedded_batch_name

    params = yaml.safe_load((REPO / "params.yaml").read_text())["synthetic"]
    rendered = (REPO / "dvc.yaml").read_text().replace(
        "${synthetic.seed}", str(params["seed"])).replace("${synthetic.studies}", str(params["studies"]))
    name = embedded_batch_name(SynthesisSettings(**params))
    assert f"--out data/incoming/{name}\n" in rendered


def test_catalog_mode_needs_data_or_input_and_out():
    result = subprocess.run([sys.executable, "-m", "cxralign", "sections"], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 2
    assert "--data DATA" in result.stderr


def test_commit_stages_says_why_without_dvc(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(DVC_ENV_VAR, str(tmp_path / "no-such-dvc"))
    assert dvc_executable() is None
    reason = commit_stages(tmp_path, ["pairs"])
    assert reason is not None and "dvc not installed" in reason


def test_dvc_md5_of_a_missing_path_is_an_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        dvc_md5(tmp_path / "absent")


# --- against the real dvc -----------------------------------------------------------------

@pytest.fixture(scope="module")
def dvc() -> Path:
    executable = dvc_executable()
    if executable is None:
        pytest.skip(f"dvc not installed: run `make dvc` (builds .venv-dvc) or set {DVC_ENV_VAR}")
    return executable


def _env() -> dict[str, str]:
    # The stages call `cxralign`: the console script beside this interpreter.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, **QUIET_ENV, "PATH": path}


def run(dvc: Path, repo: Path, *args: str) -> str:
    """``dvc ARGS`` in ``repo``; its output, or a failed assertion with DVC's message."""
    result = subprocess.run([str(dvc), *args], cwd=repo, env=_env(), capture_output=True,
                            text=True, check=False, timeout=600)
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _new_repo(dvc: Path, root: Path, params: dict = TINY_PARAMS) -> Path:
    """A git + DVC repository holding the project's dvc.yaml, .gitignore and DVC config, with
    ``params`` as its params.yaml."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    run(dvc, root, "init", "-q")
    for name in ("dvc.yaml", ".gitignore", ".dvcignore", ".dvc/config"):
        shutil.copy(REPO / name, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def _dvc_file_hash(dvc: Path, repo: Path, target: str) -> str:
    run(dvc, repo, "add", target)
    return yaml.safe_load((repo / f"{target}.dvc").read_text())["outs"][0]["md5"]


def test_dvc_md5_matches_dvc_for_a_file_and_a_directory(dvc: Path, tmp_path: Path):
    repo = _new_repo(dvc, tmp_path / "repo")
    (repo / "one.bin").write_bytes(bytes(range(256)) * 100)
    tree = repo / "tree"
    # Names whose sort order differs between path components and whole relpaths, non-ASCII
    # names, an empty file, CRLF text (DVC 3 hashes bytes as they are) and an empty folder.
    for relpath, content in {"a/b.txt": b"x\r\ny\r\n", "a.b": b"", "a-b/c": b"c",
                             "é/ü.txt": "données".encode(), "z/deep/er/f": b"f" * 5000}.items():
        (tree / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tree / relpath).write_bytes(content)
    (tree / "empty").mkdir()
    expected = {"one.bin": dvc_md5(repo / "one.bin"), "tree": dvc_md5(tree)}
    assert expected["tree"].endswith(".dir")
    assert {name: _dvc_file_hash(dvc, repo, name) for name in expected} == expected


def test_commit_stages_fails_loudly_on_an_unknown_stage(dvc: Path, tmp_path: Path):
    repo = _new_repo(dvc, tmp_path / "repo")
    with pytest.raises(RuntimeError, match="no-such-stage"):
        commit_stages(repo, ["no-such-stage"])


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _outs(repo: Path) -> dict[str, str]:
    """Every output path of dvc.lock with the hash it records."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {out["path"]: out["md5"] for stage in lock.values() for out in stage.get("outs", [])}


@dataclass(frozen=True)
class Built:
    """The tiny pipeline as `dvc repro` left it: the repository, what dvc printed, and the
    output hashes dvc.lock recorded then (later tests change the repository)."""

    repo: Path
    output: str
    outs: dict[str, str]


@pytest.fixture(scope="module")
def built(dvc: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    repo = _new_repo(dvc, tmp_path_factory.mktemp("dvc") / "repo")
    output = run(dvc, repo, "repro")
    return Built(repo, output, _outs(repo))


@pytest.mark.slow
def test_repro_builds_the_whole_chain_without_dagster(built: Built):
    repo, output = built.repo, built.output
    expected = {name for name in STAGES if name != "train"} | {"train@asg-0"}
    assert _ran(output) == expected
    for table in ("images", "reports", "sections", "sentences", "triplets", "boxes", "pairs",
                  "study_tags"):
        assert (repo / "data" / "staged" / table / f"{BATCH}.parquet").is_file(), table
    assert (repo / "data" / "models" / "pretrain" / "asg" / "seed-0" / "run.json").is_file()
    assert "asg" in json.loads((repo / "data/reports/evaluation/metrics.json").read_text())
    recorded = _outs(repo)
    assert len(recorded) == 18, sorted(recorded)  # every declared output of the chain
    for path, md5 in recorded.items():
        assert dvc_md5(repo / path) == md5, path


@pytest.mark.slow
def test_a_second_repro_runs_nothing_and_status_is_clean(dvc: Path, built: Built):
    repo = built.repo
    output = run(dvc, repo, "repro")
    assert _ran(output) == set()
    assert json.loads(run(dvc, repo, "status", "--json")) == {}


@pytest.mark.slow
def test_push_then_pull_restores_identical_files(dvc: Path, built: Built,
                                                 tmp_path: Path):
    repo = built.repo
    # The documented way to point the default remote elsewhere: a git-ignored config.local.
    run(dvc, repo, "remote", "modify", "--local", "local", "url", str(tmp_path / "remote"))
    run(dvc, repo, "push")
    before = {path: dvc_md5(repo / path) for path in _outs(repo)}
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    run(dvc, repo, "pull")
    assert {path: dvc_md5(repo / path) for path in before} == before
    assert json.loads(run(dvc, repo, "status", "--json")) == {}


@pytest.mark.slow
def test_a_changed_param_reruns_only_the_stages_that_read_it(dvc: Path, built: Built):
    repo = built.repo
    params = {**TINY_PARAMS, "anatomy": {**TINY_PARAMS["anatomy"], "min_score": 0.0}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(json.loads(run(dvc, repo, "status", "--json"))) == {"anatomy"}
    output = run(dvc, repo, "repro", "pairs")
    # The 1-epoch detector is not trusted at the default threshold (its score is still near the
    # untrained prior), so every box was the atlas's; trusting all of its boxes changes them,
    # and pairs re-runs on its changed input ...
    assert _ran(output) == {"anatomy", "pairs"}
    assert json.loads(run(dvc, repo, "status", "--with-deps", "--json", "pairs")) == {}
    # ... and training and evaluation, downstream of the new pairs, are now out of date.
    assert set(json.loads(run(dvc, repo, "status", "--json"))) == {"train@asg-0", "eval", "generate"}


# --- Dagster writes, DVC records ------------------------------------------------------------

def _dagster_config() -> tuple[dict, dict]:
    """Run config of the setup assets and of one batch, equal to TINY_PARAMS (a commit records
    params.yaml's values, so they must describe what Dagster did)."""
    anatomy = {k: v for k, v in TINY_PARAMS["anatomy"].items() if k != "min_score"}
    setup = {
        "incoming_studies": {"config": {**TINY_PARAMS["synthetic"], "workers": 1}},
        "anatomy_detector": {"config": {**anatomy, "workers": 1}},
    }
    batch = {
        "dicom_images": {"config": {**TINY_PARAMS["ingest"], "workers": 1}},
        "report_triplets": {"config": TINY_PARAMS["text"]},
        "anatomy_boxes": {"config": {"min_score": TINY_PARAMS["anatomy"]["min_score"]}},
    }
    return setup, batch


@pytest.fixture
def one_torch_thread():
    """In-process training as the `dvc repro` stages train (OMP_NUM_THREADS=1): the same
    floating-point reduction order, so the same weights."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_dagster_run_leaves_dvc_status_clean_and_the_same_bytes(
    dvc: Path, built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The assets commit their DVC stages as they go: after a Dagster run (no `dvc repro`),
    `dvc status` is clean, and every output has the hash `dvc repro` gave it."""
    import dagster as dg

    from cxralign_pipeline.definitions import defs as location
    from cxralign_pipeline.defs.io.assets import embedded_batch_name
    from cxralign_pipeline.defs.resources import local_resources
    from cxralign_pipeline.lib.resources import against_data_dir

    monkeypatch.setenv(DVC_ENV_VAR, str(dvc))
    repo = _new_repo(dvc, tmp_path / "repo")
    data_dir = repo / "data"
    defs = against_data_dir(location, str(data_dir))
    setup_config, batch_config = _dagster_config()
    with dg.instance_for_test() as instance:
        setup = dg.materialize(
            [*location.assets, *location.asset_checks], selection=["incoming_studies", "anatomy_detector"],
            instance=instance, resources=local_resources(str(data_dir)),
            run_config={"ops": setup_config},
        )
        assert setup.success
        batch = embedded_batch_name(SynthesisSettings(**TINY_PARAMS["synthetic"]))
        assert batch == BATCH
        result = defs.resolve_job_def("process_batch").execute_in_process(
            partition_key=batch, instance=instance, run_config={"ops": batch_config},
            raise_on_error=False,
        )
        assert result.success
        commits = [
            event.materialization.metadata["dvc_commit"].value
            for outcome in (setup, result)
            for event in outcome.get_asset_materialization_events()
            if "dvc_commit" in event.materialization.metadata
        ]
    assert commits and all(c.startswith("committed") for c in commits), commits
    assert json.loads(run(dvc, repo, "status", "--with-deps", "--json", "pairs")) == {}
    assert _ran(run(dvc, repo, "repro", "pairs")) == set()
    dagster_outs = _outs(repo)
    assert len(dagster_outs) == 14  # every output up to pairs
    # Ingestion names its shard folder after a digest of the input files' sizes and mtimes
    # (cxralign.io.ingest._generation), and the two builds generated their inputs at different
    # times: those two outputs differ in that name only. Everything else is byte-identical.
    by_mtime = {f"data/staged/arrays/{BATCH}", f"data/staged/images/{BATCH}.parquet"}
    same = {path: md5 for path, md5 in dagster_outs.items() if path not in by_mtime}
    assert same == {path: built.outs[path] for path in same}
