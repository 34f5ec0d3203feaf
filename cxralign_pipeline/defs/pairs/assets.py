"""Alignment stage: triplets + anatomy boxes → region–sentence pairs and per-study tag vectors."""

from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxralign.io.catalog import Catalog
from cxralign.io.staging import open_staged
from cxralign.pairs import draw_pairs
from cxralign.pairs.partitions import write_pairs
from cxralign_pipeline.defs.anatomy.assets import anatomy_boxes
from cxralign_pipeline.defs.io.assets import dicom_images
from cxralign_pipeline.defs.text.assets import report_sentences, report_triplets
from cxralign_pipeline.lib.metadata import png_markdown, table_metadata, value_counts
from cxralign_pipeline.lib.partitions import BATCHES
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step


@stage_asset(
    deps=[dicom_images, report_sentences, report_triplets, anatomy_boxes], partitions_def=BATCHES,
    kinds={"python", "parquet"},
)
def region_sentence_pairs(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    """``pairs``: each report sentence of one batch linked to the anatomical boxes it talks about
    (ASG's one→one, one→many with a merged union box, many→one and image-level cases), and
    ``study_tags``: the (finding × existence) tag vector of every study of the batch."""
    store = catalog.catalog
    batch = context.partition_key
    read = {name: store.partition_path(name, batch) for name in ("triplets", "sentences", "images", "boxes")}

    def work() -> StepOutcome:
        pairs, tags = write_pairs(store, batch)
        written = [store.partition_path("pairs", batch), store.partition_path("study_tags", batch)]
        tables = {name: store.read_table(name, [batch]) for name in ("images", "sentences")}
        metadata: dict[str, dg.RawMetadataValue] = {
            "pairs": pairs.num_rows, "studies_with_tags": tags.num_rows,
            **table_metadata(pairs, rows=6, columns=["pair_kind", "region", "member_regions",
                                                     "sentence_indices", "findings"]),
        }
        if pairs.num_rows:
            metadata["by_kind"] = value_counts(pairs, "pair_kind")
            metadata["example"] = _example_picture(store, pairs, tables["images"], tables["sentences"])
        rows = {name: pq.read_metadata(path).num_rows for name, path in read.items()}
        return StepOutcome(written, metadata, rows)

    return recorded_step(context, Path(catalog.data_dir), None, work)


def _example_picture(store: Catalog, pairs: pa.Table, images: pa.Table, sentences: pa.Table) -> dg.MetadataValue:
    """The image with the most region pairs, its boxes coloured by the sentence they pair with."""
    region_rows = pairs.filter(pc.equal(pairs["pair_kind"], "region"))
    counts = Counter(region_rows["image_id"].to_pylist())
    busiest = counts.most_common(1)[0][0] if counts else pairs["image_id"][0].as_py()
    image = images.filter(pc.equal(images["image_id"], busiest)).to_pylist()[0]
    picture = draw_pairs(
        open_staged(store.root, image["staged_path"], image["staged_index"]),
        pairs.filter(pc.equal(pairs["image_id"], busiest)),
        sentences.filter(pc.equal(sentences["study_id"], image["study_id"])),
    )
    return png_markdown(picture, "one study's boxes coloured by the sentence they pair with")
