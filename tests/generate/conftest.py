"""A 30-study phantom catalog (the evaluation tests' builder), a tiny untrained encoder saved
where the pipeline looks, and a generator trained briefly on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cxralign.io.catalog import Catalog
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign_fixtures.phantom_catalog import build_phantom_catalog

sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
from eval_fixtures import DEID_KEY, save_untrained  # noqa: E402 - shared evaluation helpers

STUDIES = 30


@pytest.fixture(scope="session")
def gen_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("generate_phantom")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV_VAR, DEID_KEY)
        return build_phantom_catalog(root, STUDIES, seed=1, image_size=64, test_fraction=0.35)


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
