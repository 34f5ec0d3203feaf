"""Metadata helpers shared by the assets: previews a person reads in the Dagster UI."""

import base64
import io
from collections.abc import Sequence

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

PREVIEW_CELL = 60
"""Characters of a preview cell (report sentences are longer)."""


def table_metadata(table: pa.Table, rows: int = 5, columns: Sequence[str] | None = None
                   ) -> dict[str, dg.MetadataValue]:
    """Dagster's own table metadata: ``dagster/row_count``, ``dagster/column_schema`` (every
    column with its Arrow type) and ``preview``, the first rows as a table the UI renders
    (cells shortened so the page stays readable)."""
    chosen = list(columns) if columns else table.column_names
    schema = dg.TableSchema(columns=[dg.TableColumn(field.name, str(field.type)) for field in table.schema])
    head = table.select(chosen).slice(0, rows).to_pylist()
    records = [dg.TableRecord({name: str(row[name])[:PREVIEW_CELL] for name in chosen}) for row in head]
    return {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        "preview": dg.MetadataValue.table(records, dg.TableSchema(columns=[dg.TableColumn(name) for name in chosen])),
    }


def value_counts(table: pa.Table, column: str) -> dg.MetadataValue:
    """How often each value of ``column`` occurs, as JSON metadata."""
    counts = pc.value_counts(table[column]).to_pylist()
    return dg.MetadataValue.json({str(item["values"]): int(item["counts"]) for item in counts})


def image_grid(images: Sequence[np.ndarray | Image.Image], columns: int = 4) -> Image.Image:
    """Tile equally sized pictures (uint8 arrays or PIL images, grey or colour) into one."""
    tiles = [tile if isinstance(tile, Image.Image) else Image.fromarray(tile) for tile in images]
    mode = "RGB" if any(tile.mode != "L" for tile in tiles) else "L"
    width, height = tiles[0].size
    count_rows = -(-len(tiles) // columns)
    grid = Image.new(mode, (min(columns, len(tiles)) * width, count_rows * height))
    for index, tile in enumerate(tiles):
        grid.paste(tile.convert(mode), ((index % columns) * width, (index // columns) * height))
    return grid


def png_markdown(picture: Image.Image, caption: str) -> dg.MetadataValue:
    """Embed a PNG in Markdown metadata, which the Dagster UI renders inline."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return dg.MetadataValue.md(f"![{caption}](data:image/png;base64,{encoded})\n\n{caption}")
