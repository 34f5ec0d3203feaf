"""The ``pairs`` subcommand of the ``cxralign`` console script. :func:`register` adds it to the
script's sub-parsers; the handler calls the library function the Dagster asset calls."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from cxralign.io.catalog import DEFAULT_PARTITION, Catalog
from cxralign.layout import default_data_dir

PAIRS_READS = ("images", "sections", "triplets", "boxes")
"""What ``pairs`` needs, in the order the commands make it: ``write_pairs`` reads images,
triplets (``sentences`` come with them) and boxes; ``sections`` must precede ``triplets``, so a
catalog missing both is told to run ``sections`` first."""


def _pairs(args: argparse.Namespace) -> int:
    from cxralign.pairs.partitions import write_pairs
    from cxralign.upstream import require_partition_tables

    catalog = Catalog(args.data)
    require_partition_tables(catalog, args.partition, PAIRS_READS)
    pairs, tags = write_pairs(catalog, args.partition)
    kinds = Counter(pairs.column("pair_kind").to_pylist())
    counts = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    print(f"partition {args.partition}: {pairs.num_rows} pairs ({counts}), "
          f"{tags.num_rows} study tag vectors")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``pairs`` to the ``cxralign`` sub-parsers."""
    pairs = commands.add_parser(
        "pairs",
        help="link report sentences to anatomical boxes (one catalog partition)",
        description="Read the triplets, sentences, images and boxes tables of one partition of "
        "the catalog under DATA and write its pairs and study_tags tables.",
    )
    pairs.add_argument("--data", type=Path, default=default_data_dir(),
                   help="data directory (catalog root; default $CXRALIGN_DATA_DIR or ./data)")
    pairs.add_argument("--partition", default=DEFAULT_PARTITION, help="partition (batch) name")
    pairs.set_defaults(handler=_pairs)
