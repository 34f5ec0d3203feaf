"""A 30-study phantom catalog with every table evaluation reads."""

from __future__ import annotations

import pytest
from eval_fixtures import DEID_KEY

from cxralign.io.catalog import Catalog
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign_fixtures.phantom_catalog import build_phantom_catalog

STUDIES = 30
IMAGE_SIZE = 64


@pytest.fixture(scope="session")
def eval_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("eval_phantom")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV_VAR, DEID_KEY)
        return build_phantom_catalog(root, STUDIES, seed=0, staged_size=IMAGE_SIZE,
                                     test_fraction=0.35)


@pytest.fixture(scope="session")
def eval_models(eval_catalog: Catalog) -> list:
    """Tiny model directories where the asset looks: asg seeds 0 and 1, convirt seed 0."""
    from eval_fixtures import save_untrained

    root = eval_catalog.root / "models" / "pretrain"
    return [save_untrained(root / recipe / f"seed-{seed}", recipe, seed)
            for recipe, seed in (("asg", 0), ("asg", 1), ("convirt", 0))]
