"""The phantom end to end, once per session: synthesize, ingest, text stage, gold boxes, pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cxralign.io.catalog import Catalog
from cxralign.io.ingest import IngestSettings, ingest
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign.io.staging import open_staged
from cxralign.pairs import gold_boxes_from_phantom, pairs_table
from cxralign.synthetic import synthesize
from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table

STUDIES = 30
IMAGE_SIZE = 64
KEY = "pairs-test-key"


@dataclass(frozen=True)
class Phantom:
    ground_truth: Path
    catalog: Catalog
    key: bytes
    images: pa.Table
    sentences: pa.Table
    triplets: pa.Table
    boxes: pa.Table
    pairs: pa.Table
    staged_size: int = IMAGE_SIZE

    def staged(self, image_id: str) -> np.ndarray:
        row = next(r for r in self.images.to_pylist() if r["image_id"] == image_id)
        return open_staged(self.catalog.root, row["staged_path"], row["staged_index"])


@pytest.fixture(scope="session")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Phantom:
    root = tmp_path_factory.mktemp("pairs_phantom")
    synthesize(root / "incoming", STUDIES, seed=0, workers=1)
    catalog = Catalog(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV_VAR, KEY)
        ingest(root / "incoming", catalog, IngestSettings(workers=1, staged_size=IMAGE_SIZE))
    images = catalog.read_table("images")
    sections, _ = sections_table(catalog.read_table("reports"))
    sentences = sentences_table(sections)
    triplets = triplets_table(sentences, load_parser("rules"))
    key = KEY.encode()
    ground_truth = root / "incoming" / "ground_truth"
    boxes = gold_boxes_from_phantom(ground_truth, images, key)
    return Phantom(ground_truth, catalog, key, images, sentences, triplets, boxes,
                   pairs_table(triplets, sentences, images, boxes))
