"""The ``cxralign`` command line: a stable interface that scripts, DVC stages and the Dagster
assets share. Each command calls the same library function an asset calls."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from cxralign.anatomy import commands as anatomy_commands
from cxralign.errors import UsageError, existing_path, run_handler, validated, writable_target
from cxralign.eval import commands as eval_commands
from cxralign.generate import commands as generate_commands
from cxralign.io.catalog import DEFAULT_PARTITION, Catalog
from cxralign.layout import default_data_dir
from cxralign.lineage import commands as lineage_commands
from cxralign.pairs import commands as pairs_commands
from cxralign.progress import log_to_stderr
from cxralign.synthetic.settings import SynthesisSettings
from cxralign.text import commands as text_commands
from cxralign.train import commands as train_commands


def _synthesize(args: argparse.Namespace) -> int:
    from cxralign.synthetic import synthesize

    given = {"studies": args.studies, "seed": args.seed, "workers": args.workers,
             "max_side": args.max_side}
    settings = validated(SynthesisSettings, {k: v for k, v in given.items() if v is not None})
    writable_target(args.out, "--out", "directory")
    summary = synthesize(args.out, studies=settings.studies, seed=settings.seed,
                         workers=settings.workers, max_side=settings.max_side)
    print(
        f"wrote {summary.studies} studies ({summary.images} images, {summary.patients} patients) "
        f"to {summary.out_dir} in {summary.seconds:.1f} s"
    )
    return 0


INGEST_INPUTS = ("give a directory of DICOM/PNG/JPEG files, a MIMIC-CXR or OpenI tree, or a "
                 ".csv manifest")


def ingest_input(path: Path) -> Path:
    """The ingest input: an existing directory, or a file only when it is a ``.csv`` manifest
    (any other file would be parsed as one and fail on its columns)."""
    existing_path(path, "input", INGEST_INPUTS)
    if path.is_file() and path.suffix.lower() != ".csv":
        raise UsageError(f"input {path} is a file but not a .csv manifest; {INGEST_INPUTS} "
                         "(for one image, give the folder holding it)")
    return path


def _ingest(args: argparse.Namespace) -> int:
    from cxralign.io.ingest import IngestSettings, ingest
    from cxralign.io.layouts import InputLayoutError
    from cxralign.upstream import valid_partition

    overrides = {"staged_size": args.staged_size, "workers": args.workers,
                 "burned_in_annotation": args.burned_in_annotation}
    settings = validated(IngestSettings, {k: v for k, v in overrides.items() if v is not None})
    try:
        settings.validated()
    except ValueError as error:
        raise UsageError(str(error)) from error
    ingest_input(args.input)
    writable_target(args.out, "--out", "directory")
    valid_partition(Catalog(args.out), args.partition)
    try:
        summary = ingest(args.input, Catalog(args.out), settings, partition=args.partition)
    except InputLayoutError as error:
        raise UsageError(str(error)) from error
    rejected = sum(summary.rejected.values())
    print(
        f"ingested {summary.images} images from {summary.studies} studies "
        f"({summary.reports} reports); rejected {rejected} inputs"
    )
    for reason, count in sorted(summary.rejected.items()):
        print(f"  rejected {reason}: {count}")
    for flag, count in sorted(summary.quality_flags.items()):
        print(f"  flagged {flag}: {count}")
    print(f"catalog: {Catalog(args.out).database_path}")
    return 0


def _locate_input(args: argparse.Namespace) -> int:
    from cxralign.io.ingest import IngestSettings
    from cxralign.io.locate import locate_inputs

    ingest_input(args.input)
    layout = IngestSettings().layout if args.layout is None else args.layout
    found = locate_inputs(args.input, args.hashes, args.data, layout=layout)
    for digest in args.hashes:
        print(f"{digest}\t{found.get(digest, '(not found under this input)')}")
    return 0 if len(found) == len(set(args.hashes)) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxralign",
        description="Anatomy-aware chest X-ray image-text pipeline: library commands.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of its one-line message")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser(
        "synthesize",
        help="write a phantom batch (DICOM files, reports, ground truth) in MIMIC-CXR layout",
        description="Write deterministic phantom chest radiographs as real DICOM files, with "
        "reports and ground truth, in the layout `cxralign ingest` reads.",
    )
    synth.add_argument("--studies", type=int, required=True, help="number of studies")
    synthesis = SynthesisSettings()
    synth.add_argument("--seed", type=int, help=f"random seed (default {synthesis.seed})")
    synth.add_argument("--workers", type=int,
                       help=f"processes; 0 = all cores (default {synthesis.workers})")
    synth.add_argument("--max-side", type=int,
                       help=f"longest detector side in pixels (default {synthesis.max_side})")
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.set_defaults(handler=_synthesize)

    ing = commands.add_parser(
        "ingest",
        help="ingest DICOM/PNG/JPEG studies into Parquet tables and staged arrays",
        description="Ingest a directory (DICOM/PNG/JPEG files, a MIMIC-CXR tree, OpenI XML + "
        "images, or a CSV manifest) into de-identified Parquet tables and uint8 array shards "
        "under OUT, registered in OUT/catalog.duckdb.",
    )
    ing.add_argument("input", type=Path, help="input directory or CSV manifest")
    ing.add_argument("--out", type=Path, required=True, help="data directory (catalog root)")
    ing.add_argument("--partition", default=DEFAULT_PARTITION, help="partition (batch) name")
    ing.add_argument("--staged-size", "--image-size", dest="staged_size", type=int,
                     help="side of the staged square images in pixels")
    ing.add_argument("--workers", type=int, help="processes; 0 = all cores")
    ing.add_argument(
        "--burned-in-annotation", choices=["reject", "flag"],
        help="files marked BurnedInAnnotation=YES: reject (default) or keep with a flag",
    )
    ing.set_defaults(handler=_ingest)

    locate = commands.add_parser(
        "locate-input",
        help="operator only: print the input file behind a source_path_hash",
        description="Recompute the keyed hash of every input path under INPUT (same key, same "
        "layout as the ingest run) and print the relative path of each given hash. The output "
        "names input files, which may carry PHI: it is for the operator's terminal only.",
    )
    locate.add_argument("input", type=Path, help="the input directory or CSV manifest ingested")
    locate.add_argument("hashes", nargs="+", help="source_path_hash values")
    locate.add_argument("--layout", help="layout used by the ingest run (default: ingest's)")
    locate.add_argument("--data", type=Path, default=default_data_dir(),
                        help="the catalog ingested into (its key file hashes the paths; default "
                        "$CXRALIGN_DATA_DIR or ./data)")
    locate.set_defaults(handler=_locate_input)

    text_commands.register(commands)
    anatomy_commands.register(commands)
    train_commands.register(commands)
    lineage_commands.register(commands)
    pairs_commands.register(commands)
    eval_commands.register(commands)
    generate_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a user error is one line on stderr and exit status 2 (its traceback
    only with ``--debug``)."""
    args = build_parser().parse_args(argv)
    log_to_stderr()
    return run_handler(args, debug=args.debug)
