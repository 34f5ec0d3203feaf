"""The ``cxralign audit`` command: print the chain of materialisations behind an output."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from cxralign.errors import UsageError, existing_dir
from cxralign.layout import DATA_DIR_ENV_VAR, default_data_dir
from cxralign.lineage.audit import audit_chain, format_markdown, format_text

NOTHING_FOUND: Final = 1
"""Exit status when no record produced the target (a search that found nothing, like grep)."""


def _audit(args: argparse.Namespace) -> int:
    existing_dir(args.data, "--data", "give the data directory the pipeline wrote (default "
                 f"${DATA_DIR_ENV_VAR} or ./data)")
    try:
        steps = audit_chain(args.data, args.target)
    except LookupError as error:
        raise UsageError(f"{error}; lineage records are written by Dagster runs and by "
                         "`cxralign pretrain`: was the target made another way, or under "
                         "another --data?", status=NOTHING_FOUND) from error
    print(format_markdown(steps, args.target) if args.markdown else format_text(steps), end="")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``audit`` to the ``cxralign`` sub-commands."""
    audit = commands.add_parser(
        "audit",
        help="print the chain of assets (hashes, code, config, runs) that produced an output",
        description="Follow the lineage records under DATA/lineage from TARGET back to the "
        "incoming data and print every step: asset, partition, output and input DVC md5s, git "
        "commit (and whether the tree was dirty), config, Dagster run id, times, row counts.",
    )
    audit.add_argument(
        "target",
        help="a model directory or any path under DATA (e.g. data/models/pretrain/asg/seed-0), "
        "or a catalog table name (e.g. pairs)",
    )
    audit.add_argument(
        "--data", type=Path, default=default_data_dir(),
        help=f"data directory (default ${DATA_DIR_ENV_VAR} or ./data)",
    )
    audit.add_argument("--markdown", action="store_true", help="Markdown for a paper appendix")
    audit.set_defaults(handler=_audit)
