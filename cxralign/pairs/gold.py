"""Gold anatomical boxes from the phantom generator's ground truth, as a ``boxes`` table.

The phantom writes region boxes in ORIGINAL pixels keyed by raw identifiers; the pipeline works
in STAGED pixels keyed by pseudonyms. This maps one onto the other exactly as ingestion does:
``image_id = pseudonymize("image", SOPInstanceUID, key)`` (the generator's ``image_key`` is the
SOPInstanceUID) and staged pixel = original pixel × ``images.staged_scale``. Pairs are built
from it in tests, and the evaluation scores detected boxes against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from cxralign.io.deid import pseudonymize

GOLD: Final = "gold"
GOLD_SCORE: Final = 1.0
BOXES_SCHEMA: Final = pa.schema(
    [("image_id", pa.string()), ("region", pa.string()),
     ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64()),
     ("score", pa.float64()), ("source", pa.string())]
)
_CORNERS: Final = ("x1", "y1", "x2", "y2")


def gold_boxes_from_phantom(ground_truth_dir: Path, images_table: pa.Table, key: bytes) -> pa.Table:
    """``boxes`` rows (source ``gold``, score 1) of every ingested phantom image.

    ``ground_truth_dir`` holds ``regions.parquet``; ``key`` is the pseudonymisation key the
    images were ingested with (:func:`cxralign.io.secret_key.resolve_key`). Phantom images that
    ingestion rejected have no ``images`` row and therefore no boxes.
    """
    scales = dict(zip(images_table["image_id"].to_pylist(),
                      images_table["staged_scale"].to_pylist(), strict=True))
    regions = pq.read_table(Path(ground_truth_dir) / "regions.parquet",
                            columns=["image_key", "region", *_CORNERS]).to_pylist()
    rows = []
    for row in regions:
        image_id = pseudonymize("image", row["image_key"], key)
        scale = scales.get(image_id)
        if scale is None:
            continue
        rows.append({"image_id": image_id, "region": row["region"],
                     **{corner: row[corner] * scale for corner in _CORNERS},
                     "score": GOLD_SCORE, "source": GOLD})
    return pa.Table.from_pylist(rows, schema=BOXES_SCHEMA)
