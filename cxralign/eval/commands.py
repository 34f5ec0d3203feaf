"""The ``evaluate`` subcommand of the ``cxralign`` console script. :func:`register` adds it to
the script's sub-parsers; the handler calls the same library functions the Dagster asset
``downstream_evaluation`` calls and returns an exit status."""

from __future__ import annotations

import argparse
from pathlib import Path

from cxralign.errors import UsageError, existing_dir, validated
from cxralign.eval.settings import EvaluationSettings
from cxralign.layout import default_data_dir


def evaluation_settings(args: argparse.Namespace) -> EvaluationSettings:
    """The settings the flags give (an omitted flag keeps the model's default); a value the
    model refuses is a usage error naming its flag."""
    overrides = {
        "random_init": args.random_init, "random_init_seeds": args.random_init_seeds,
        "recipes": args.recipes, "probe_fractions": args.probe_fractions,
        "probe_seeds": args.probe_seeds, "segmentation_dir": args.segmentation_dir,
        "segmentation_epochs": args.segmentation_epochs, "split": args.split,
        "probe_min_positives": args.probe_min_positives, "retrieval_ks": args.retrieval_ks,
        "ground_truth_dirs": args.ground_truth_dir, "generation_epochs": args.generation_epochs,
    }
    return validated(EvaluationSettings, {k: v for k, v in overrides.items() if v is not None},
                     flags={"ground_truth_dirs": "--ground-truth-dir"})


def _evaluate(args: argparse.Namespace) -> int:
    settings = evaluation_settings(args)
    for flag, folders in (("--model", args.model), ("--ground-truth-dir", args.ground_truth_dir)):
        for folder in folders or ():
            existing_dir(Path(folder), flag, "give a directory written by `cxralign pretrain` "
                         "(--model) or a phantom batch's ground_truth/ (--ground-truth-dir)")
    # The evaluation modules import torch: only once the arguments are known to be usable.
    from cxralign.eval.report import write_report
    from cxralign.eval.run import discover_model_dirs, model_specs, run_evaluation
    from cxralign.io.catalog import Catalog
    from cxralign.models.recipes import load_recipe

    directories = args.model or discover_model_dirs(args.data, settings.recipes)
    try:
        recipe = load_recipe(args.random_init_recipe) if args.random_init_recipe else None
    except ValueError as error:
        raise UsageError(f"--random-init-recipe: {error}") from error
    if not directories and not (settings.random_init and recipe):
        raise UsageError(f"no model directories (give --model, or train into "
                         f"{args.data}/models/pretrain/<recipe>/seed-<k>/ with `cxralign "
                         "pretrain`)")
    specs = model_specs(directories, settings.random_init, settings.random_init_seeds, recipe)
    catalog = Catalog(args.data)
    try:
        outcome = run_evaluation(specs, catalog, settings)
    except (ValueError, FileNotFoundError) as error:  # e.g. an empty held-out split
        raise UsageError(str(error)) from error
    report = write_report(outcome, settings, args.out, primary=args.primary,
                          catalog=None if args.no_catalog else catalog)
    print(report.markdown)
    print(f"wrote {report.metrics_path}, {report.summary_path} and "
          f"{', '.join(p.name for p in report.plots)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the ``cxralign`` sub-commands."""
    defaults = EvaluationSettings()
    parser = commands.add_parser(
        "evaluate",
        help="evaluate pre-trained models downstream (retrieval, zero-shot, probe, grounding, "
        "segmentation, report generation) and compare recipes over seeds",
        description="Evaluate model directories written by `cxralign pretrain` on the held-out "
        "split of DATA and write metrics.json, details.json, summary.md and PNG plots to OUT, "
        "plus the catalog table evaluation_metrics. Without --model, every "
        "DATA/models/pretrain/<recipe>/seed-<k>/ of --recipes is evaluated.",
    )
    parser.add_argument("--model", type=Path, action="append", metavar="MODEL_DIR",
                        help="a model directory (repeat for several recipes and seeds)")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                    help="data directory (catalog root; default $CXRALIGN_DATA_DIR or ./data)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--recipes", nargs="+",
                        help=f"recipes to look for without --model (default {defaults.recipes})")
    parser.add_argument("--primary", help="label compared against every other row (default: "
                        "the first model's recipe)")
    parser.add_argument("--random-init", action=argparse.BooleanOptionalAction, default=None,
                        help="also evaluate the untrained architecture (default on)")
    parser.add_argument("--random-init-seeds", type=int, nargs="+",
                        help="seeds of the random-init baseline (default "
                        f"{defaults.random_init_seeds})")
    parser.add_argument("--random-init-recipe",
                        help="recipe of the random-init baseline (default: the first model's "
                        "own recipe.json, so sizes match)")
    parser.add_argument("--probe-fractions", type=float, nargs="+",
                        help=f"label fractions of the probe (default {defaults.probe_fractions})")
    parser.add_argument("--probe-seeds", type=int, nargs="+",
                        help=f"subset seeds of the probe (default {defaults.probe_seeds})")
    parser.add_argument("--probe-min-positives", type=int,
                        help="training positives a finding needs to be probed (default "
                        f"{defaults.probe_min_positives})")
    parser.add_argument("--retrieval-ks", type=int, nargs="+",
                        help=f"Recall@k cut-offs (default {defaults.retrieval_ks})")
    parser.add_argument("--ground-truth-dir", action="append", metavar="DIR",
                        help="phantom ground_truth/ folder labelling the images (repeatable; "
                        "default: found beside DATA, see cxralign.eval.truth)")
    parser.add_argument("--segmentation-dir",
                        help=f"lung-mask folder (default {defaults.segmentation_dir}; skipped "
                        "when absent)")
    parser.add_argument("--segmentation-epochs", type=int, help="decoder epochs")
    parser.add_argument("--generation-epochs", type=float,
                        help="epochs of the report generator trained on each model (default "
                        f"{defaults.generation_epochs:g}; 0 scores only its baselines)")
    parser.add_argument("--split", help=f"held-out split (default {defaults.split!r})")
    parser.add_argument("--no-catalog", action="store_true",
                        help="do not write the evaluation_metrics table into DATA's catalog")
    parser.set_defaults(handler=_evaluate)
