"""The ``pretrain`` subcommand of the ``cxralign`` console script.

``cxralign pretrain --recipe asg [--config FILE] [--settings FILE] [--seed S] [--steps N]
--data DATA --out MODEL_DIR`` trains one recipe with one seed on every partition of the catalog
in DATA and writes MODEL_DIR (the model, ``training_log.parquet``, ``run.json``). Progress is
a readable line on stderr about every 10 s (``--json-progress``: every logged step as a JSON
line on stdout, for scripts). Under ``torchrun`` each process runs the same command; only
rank 0 prints and writes. ``--config`` holds recipe overrides (``load_recipe``), ``--settings``
training settings (:class:`~cxralign.train.settings.PretrainSettings`, JSON or YAML); flags
override both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxralign.docstrings import paragraphs
from cxralign.errors import UsageError, existing_file, validated
from cxralign.layout import default_data_dir
from cxralign.train.console import ReadableProgress
from cxralign.train.settings import PretrainSettings

if TYPE_CHECKING:  # the loop imports torch and the models; `--help` should not wait for them
    from cxralign.train.loop import RunResult

FLAG_FIELDS = ("steps", "epochs", "batch_size", "image_size", "image_output_stride",
               "text_layers", "accumulation", "learning_rate", "device", "workers",
               "checkpoint_every", "image_init_detector")
"""The settings a flag sets; each flag's default is None, so the settings model's default holds."""

FLAGS: dict[str, tuple[str, ...]] = {
    **{name: (f"--{name.replace('_', '-')}",) for name in FLAG_FIELDS},
    "learning_rate": ("--lr", "--learning-rate"),
}
"""Field -> its flags (the first one is named in errors): ``--lr`` is the established short one."""


def add_pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of one run (shared with the Pipes entry point)."""
    defaults = PretrainSettings()
    parser.add_argument("--recipe", help=f"recipe name (default {defaults.recipe})")
    parser.add_argument("--config", type=Path, help="recipe overrides (JSON/YAML)")
    parser.add_argument("--settings", type=Path, help="training settings (JSON/YAML)")
    parser.add_argument("--seed", type=int, help=f"default {defaults.seeds[0]}")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                    help="data directory (catalog root; default $CXRALIGN_DATA_DIR or ./data)")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    for name in FLAG_FIELDS:
        field = PretrainSettings.model_fields[name]
        parser.add_argument(*FLAGS[name], dest=name, type=field.annotation,
                            help=f"default {field.default}: {field.description}")


TRAINING_READS = ("pairs", "images", "sections", "sentences", "triplets", "study_tags")
"""The catalog tables a run reads, every partition of ``pairs`` first."""


def settings_from_args(args: argparse.Namespace) -> PretrainSettings:
    """The run's settings: ``--settings`` file, then flags (a usage error when one is out of
    range or a file is missing)."""
    values: dict[str, Any] = {}
    if args.config is not None:
        existing_file(args.config, "--config", "give a JSON/YAML file of recipe overrides")
    if args.settings is not None:
        existing_file(args.settings, "--settings", "give a JSON/YAML file of training settings")
        values.update(_read_settings(args.settings))
    values.update({name: getattr(args, name) for name in FLAG_FIELDS
                   if getattr(args, name) is not None})
    if args.config is not None:
        values["recipe_config"] = str(args.config)
    if args.recipe is not None:
        values["recipe"] = args.recipe
    return validated(PretrainSettings, values,
                     flags={name: flags[0] for name, flags in FLAGS.items()})


def run_from_args(args: argparse.Namespace,
                  progress: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
    """Train the run ``args`` describe; returns the :class:`~cxralign.train.loop.RunResult`."""
    from cxralign.train.loop import RunSpec, pretrain

    settings = settings_from_args(args)
    seed = settings.seeds[0] if args.seed is None else args.seed
    spec = RunSpec(args.data, args.out, settings.recipe, seed, settings, settings.recipe_config)
    return pretrain(spec, progress)


def print_json_line(row: dict[str, Any]) -> None:
    print(json.dumps(row, default=str), flush=True)


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def check_run(args: argparse.Namespace) -> PretrainSettings:
    """Everything a run needs before it starts: valid settings, a known recipe and the catalog
    tables it reads (a usage error naming the command to run first)."""
    from cxralign.io.catalog import Catalog
    from cxralign.models.recipes import load_recipe
    from cxralign.upstream import require_tables

    settings = settings_from_args(args)
    require_tables(Catalog(args.data), TRAINING_READS)
    try:
        load_recipe(settings.recipe, settings.recipe_config or None)
    except ValueError as error:
        raise UsageError(str(error)) from error
    return settings


def _pretrain(args: argparse.Namespace) -> int:
    """Train, then (rank 0) write the run's lineage record, as the Dagster asset does."""
    from cxralign.lineage.records import utc_now
    from cxralign.train.lineage import record_cli_run, training_inputs

    settings = check_run(args)
    started = utc_now()
    inputs = training_inputs(args.data) if is_main_process() else ()
    reporter = print_json_line if args.json_progress else ReadableProgress()
    try:
        result = run_from_args(args, reporter if is_main_process() else None)
    except (ValueError, FileNotFoundError, FileExistsError) as error:  # e.g. an empty split
        raise UsageError(str(error)) from error
    if result.model_dir is not None:
        record = record_cli_run(args.data, result.model_dir, settings, result.recipe,
                                result.seed, inputs, started)
        print(f"lineage record {record} (see `cxralign audit {result.model_dir} --data "
              f"{args.data}`)", file=sys.stderr)
    return 0


def _read_settings(path: Path) -> dict[str, Any]:
    """The settings in a file; a key that is no setting is an error, not silently ignored (a
    misspelt or renamed one would otherwise leave its default in force)."""
    import yaml

    text = path.read_text(encoding="utf-8")
    values = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(values, dict):
        raise UsageError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(values) - set(PretrainSettings.model_fields))
    if unknown:
        raise UsageError(f"{path}: unknown setting(s) {', '.join(unknown)}; the settings are "
                         f"{', '.join(PretrainSettings.model_fields)}")
    return values


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``pretrain`` to the console script's sub-parsers."""
    parser = commands.add_parser(
        "pretrain", help="pre-train an image-text alignment model (one recipe, one seed)",
        description=paragraphs(__doc__)[1],
    )
    add_pretrain_arguments(parser)
    parser.add_argument("--json-progress", action="store_true",
                        help="print every logged step as a JSON line on stdout instead of "
                        "readable progress lines on stderr")
    parser.set_defaults(handler=_pretrain)
