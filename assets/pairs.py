"""Alignment stage: triplets + anatomy boxes → region–sentence pairs and per-study tag vectors."""

from collections import Counter

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.anatomy import anatomy_boxes
from assets.metadata import png_markdown, table_preview, value_counts
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
        metadata["by_kind"] = value_counts(pairs, "pair_kind")
        metadata["preview"] = table_preview(
            pairs, rows=6, columns=["pair_kind", "region", "member_regions", "sentence_indices", "findings"]
        )
        metadata["example"] = _example_picture(store, pairs)
    return dg.MaterializeResult(metadata=metadata)


def _example_picture(store: Catalog, pairs: pa.Table) -> dg.MetadataValue:
    """The image with the most region pairs, its boxes coloured by the sentence they pair with."""
    region_rows = pairs.filter(pc.equal(pairs["pair_kind"], "region"))
    busiest = Counter(region_rows["image_id"].to_pylist()).most_common(1)[0][0]
    images = store.read_table("images")
    image = images.filter(pc.equal(images["image_id"], busiest)).to_pylist()[0]
    sentences = store.read_table("sentences")
    picture = draw_pairs(
        open_staged(store.root, image["staged_path"], image["staged_index"]),
        pairs.filter(pc.equal(pairs["image_id"], busiest)),
        sentences.filter(pc.equal(sentences["study_id"], image["study_id"])),
    )
    return png_markdown(picture, "one study's boxes coloured by the sentence they pair with")
