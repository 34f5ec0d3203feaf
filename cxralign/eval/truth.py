"""Ground-truth finding labels of phantom images, for probing and zero-shot scoring against
what is drawn in the image rather than what the report parser read from the text.

Where it lives. ``cxralign.synthetic.synthesize`` writes ``ground_truth/studies.parquet`` (every
image) and ``ground_truth/findings.parquet`` (every drawn lesion) inside the batch folder it
generates; the catalog keeps no link to it. The reader looks, for every ``images`` partition
(= incoming batch) evaluated, in ``<data>/incoming/<partition>/ground_truth`` (the pipeline's
layout), then in ``<data>/incoming/ground_truth`` and ``<data>/../incoming/ground_truth`` (the
layout of ``cxralign_fixtures.phantom_catalog``: one batch beside ``data/``), or
only in the folders given explicitly (``EvaluationSettings.ground_truth_dirs``).

How rows are joined. The phantom keys an image by its SOPInstanceUID; ingestion names it
``pseudonymize("image", SOPInstanceUID, key)``, so the same key the catalog was ingested with
must be set (``$CXRALIGN_DEID_KEY`` by default, as for ``cxralign.pairs.gold``). A wrong key
joins nothing and the evaluation falls back to parser labels, saying so.

Label: 1 when a lesion of the finding is drawn (``present``, and ``uncertain`` ones: drawn
faintly, which the report hedges but the image holds), else 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow.parquet as pq

from cxralign.io.catalog import Catalog
from cxralign.io.deid import pseudonymize
from cxralign.layout import GROUND_TRUTH_DIR, incoming_dir
from cxralign.vocabulary import FINDINGS

DRAWN: Final = frozenset({"present", "uncertain"})


def ground_truth_dirs(catalog: Catalog, partitions: Iterable[str],
                      explicit: Sequence[str | Path] = ()) -> list[Path]:
    """Existing ground-truth folders (with ``studies.parquet`` and ``findings.parquet``) of
    ``partitions``: ``explicit`` ones when given, else those found by the module's layouts."""
    root = Path(catalog.root)
    if explicit:
        candidates = [Path(folder) for folder in explicit]
    else:
        candidates = [incoming_dir(root, partition) / GROUND_TRUTH_DIR for partition in partitions]
        candidates += [incoming_dir(root) / GROUND_TRUTH_DIR,
                       incoming_dir(root.parent) / GROUND_TRUTH_DIR]
    found = dict.fromkeys(
        folder.resolve() for folder in candidates
        if (folder / "studies.parquet").is_file() and (folder / "findings.parquet").is_file())
    return list(found)


def truth_labels(folders: Iterable[Path], key: bytes) -> dict[str, np.ndarray]:
    """``image_id -> (len(FINDINGS),)`` int8 labels of every phantom image in ``folders``."""
    columns = {finding: column for column, finding in enumerate(FINDINGS)}
    labels: dict[str, np.ndarray] = {}
    for folder in folders:
        ids = {image_key: pseudonymize("image", image_key, key) for image_key in
               pq.read_table(folder / "studies.parquet", columns=["image_key"])["image_key"]
               .to_pylist()}
        for image_id in ids.values():
            labels[image_id] = np.zeros(len(FINDINGS), dtype=np.int8)
        drawn = pq.read_table(folder / "findings.parquet",
                              columns=["image_key", "finding", "existence"]).to_pylist()
        for row in drawn:
            if row["existence"] in DRAWN and row["finding"] in columns:
                labels[ids[row["image_key"]]][columns[row["finding"]]] = 1
    return labels


def split_truth(labels: dict[str, np.ndarray], image_ids: Sequence[str]) -> np.ndarray | None:
    """``(len(image_ids), len(FINDINGS))`` ground truth of a split, or None unless every
    image has one (a partly covered split would be probed on a biased subset)."""
    if not image_ids or any(image_id not in labels for image_id in image_ids):
        return None
    return np.stack([labels[image_id] for image_id in image_ids])
