"""The evaluation tests' 30-study phantom catalog (its fixture, loaded from there), a tiny
untrained encoder saved where the pipeline looks, and a generator trained briefly on it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from cxralign.io.catalog import Catalog

EVAL_TESTS = Path(__file__).parents[1] / "eval"
sys.path.insert(0, str(EVAL_TESTS))
from eval_fixtures import save_untrained  # noqa: E402 - shared evaluation helpers

_spec = importlib.util.spec_from_file_location("eval_conftest", EVAL_TESTS / "conftest.py")
_eval_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_eval_conftest)
eval_catalog = _eval_conftest.eval_catalog


@pytest.fixture(scope="session")
def gen_catalog(eval_catalog: Catalog) -> Catalog:
    return eval_catalog


@pytest.fixture(scope="session")
def encoder_dir(gen_catalog: Catalog) -> Path:
    """An untrained tiny asg model at <data>/models/pretrain/asg/seed-0."""
    return save_untrained(gen_catalog.root / "models" / "pretrain" / "asg" / "seed-0", "asg", 0)


@pytest.fixture(scope="session")
def generator_dir(gen_catalog: Catalog, encoder_dir: Path, tmp_path_factory) -> Path:
    """A generator trained for a few steps, selecting every slot (so sentences are written)."""
    from cxralign.generate.settings import GeneratorSettings
    from cxralign.generate.workflow import train_generator

    out = tmp_path_factory.mktemp("generator") / "asg-seed-0"
    train_generator(encoder_dir, gen_catalog, GeneratorSettings(steps=30, threshold=0.01), out)
    return out
