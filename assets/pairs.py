"""Alignment stage: triplets + anatomy boxes → region–sentence pairs and per-study tag vectors."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.anatomy import anatomy_boxes
from assets.metadata import png_markdown, table_preview
from assets.resources import CatalogResource
from assets.text import report_triplets
from cxralign.io.catalog import Catalog
from cxralign.io.staging import open_staged
from cxralign.pairs import draw_pairs, pairs_table, study_tags_table


@dg.asset(group_name="alignment", deps=[report_triplets, anatomy_boxes], kinds={"python", "parquet"})
def region_sentence_pairs(catalog: CatalogResource) -> dg.MaterializeResult:
    """``pairs``: each report sentence linked to the anatomical boxes it talks about (ASG's
    one→one, one→many with a merged union box, many→one and image-level cases), and
    ``study_tags``: the (finding × existence) tag vector of every study."""
    store = catalog.catalog
    counts = {"pairs": 0, "studies_with_tags": 0}
    for batch in store.partitions("triplets"):
        images = store.read_table("images", [batch])
        pairs = pairs_table(
            store.read_table("triplets", [batch]), store.read_table("sentences", [batch]),
            images, store.read_table("boxes", [batch]),
        )
        tags = study_tags_table(store.read_table("triplets", [batch]))
        store.write_table("pairs", pairs, batch)
        store.write_table("study_tags", tags, batch)
        counts["pairs"] += pairs.num_rows
        counts["studies_with_tags"] += tags.num_rows

    metadata: dict[str, dg.RawMetadataValue] = dict(counts)
    if counts["pairs"]:
        pairs = store.read_table("pairs")
        kinds = pc.value_counts(pairs["pair_kind"]).to_pylist()
        metadata["by_kind"] = dg.MetadataValue.json({k["values"]: k["counts"] for k in kinds})
        metadata["preview"] = table_preview(
            pairs, rows=6, columns=["pair_kind", "region", "member_regions", "sentence_indices", "findings"]
        )
        metadata["example"] = _example_picture(store, pairs)
    return dg.MaterializeResult(metadata=metadata)


def _example_picture(store: Catalog, pairs: pa.Table) -> dg.MetadataValue:
    """The study with the most region pairs, its boxes coloured by the sentence they pair with."""
    region_rows = pairs.filter(pc.equal(pairs["pair_kind"], "region"))
    busiest = pc.mode(region_rows["image_id"])[0]["mode"].as_py()
    image = store.query(
        f"SELECT staged_path, staged_index, study_id FROM images WHERE image_id = '{busiest}'"
    ).to_pylist()[0]
    sentences = store.query(
        f"SELECT * FROM sentences WHERE study_id = '{image['study_id']}' ORDER BY sentence_index"
    )
    picture = draw_pairs(
        open_staged(store.root, image["staged_path"], image["staged_index"]),
        pairs.filter(pc.equal(pairs["image_id"], busiest)),
        sentences,
    )
    return png_markdown(picture, "one study's boxes coloured by the sentence they pair with")
