"""The lineage of a training run: what it reads from the catalog, and the record a
``cxralign pretrain`` run leaves behind (the same asset, inputs and hashes as the Dagster
``pretrained_model`` asset records, under a ``cli-…`` run id), so ``cxralign audit MODEL_DIR``
works for a model trained either way.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Final

from cxralign.io.catalog import Catalog
from cxralign.lineage.records import InputRef
from cxralign.lineage.step import Materialisation, Upstream, hashed_inputs, record_materialisation
from cxralign.train.runs import run_partition
from cxralign.train.settings import PretrainSettings

ASSET: Final = "pretrained_model"
"""The asset whose records a training run writes (the Dagster asset's key)."""

TRAINING_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "region_sentence_pairs": ("pairs", "study_tags"),
    "dicom_images": ("images",),
    "report_sections": ("sections",),
    "report_sentences": ("sentences",),
}
"""What a run reads, per partition, keyed by the asset that writes it (for the lineage chain;
the staged arrays are pinned by the paths inside ``images``)."""


def training_upstreams(store: Catalog) -> list[Upstream]:
    """Every partition's tables a training run reads, grouped by the asset that wrote them."""
    return [
        Upstream(asset, batch, [store.partition_path(table, batch) for table in tables])
        for batch in store.partitions("pairs")
        for asset, tables in TRAINING_INPUTS.items()
    ]


def training_inputs(data: Path) -> tuple[InputRef, ...]:
    """The hashed inputs of a run on the catalog in ``data`` (hash them before training)."""
    return hashed_inputs(data, training_upstreams(Catalog(data)))


def record_cli_run(data: Path, model_dir: Path, settings: PretrainSettings, recipe: str,
                   seed: int, inputs: tuple[InputRef, ...], started: str) -> Path:
    """Write the record of one ``cxralign pretrain`` run (one recipe, one seed, ``model_dir``);
    its config names the command, so a Dagster run never takes it for its own."""
    config = {**settings.model_dump(mode="json"), "recipe": recipe, "seeds": [seed],
              "command": "cxralign pretrain"}
    done = Materialisation(asset=ASSET, partition=run_partition(recipe, seed),
                           inputs=inputs, config=config,
                           run_id=f"cli-{uuid.uuid4().hex[:12]}", started=started,
                           outputs=[model_dir])
    return record_materialisation(data, done)[1]
