"""The ``anatomy`` subcommand of the ``cxralign`` console script: ``anatomy train``,
``anatomy detect`` (a folder of images) and ``anatomy boxes`` (a catalog partition).
:func:`register` adds it to the script's sub-parsers; each handler calls the same library
functions the Dagster asset calls and returns an exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pyarrow as pa

from cxralign.anatomy.settings import AnatomySettings
from cxralign.errors import UsageError, existing_dir, existing_file, validated, writable_target
from cxralign.io.atomic import write_parquet_atomically
from cxralign.layout import default_data_dir

DETECT_CHUNK: Final = 64
DETECT_SCHEMA: Final = pa.schema([
    ("image", pa.string()), ("region", pa.string()),
    ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64()),
    ("score", pa.float64()), ("source", pa.string()),
])


def _train(args: argparse.Namespace) -> int:
    from cxralign.anatomy.sources import coco_source, imagenome_source
    from cxralign.anatomy.train import train_detector

    if (args.coco or args.imagenome) and args.images is None:
        raise UsageError("--images is required with --coco or --imagenome")
    if args.masks and not args.coco:
        raise UsageError("--masks goes with --coco (the masks of its images)")
    _check_training_inputs(args)
    overrides = {"synthetic_studies": args.synthetic, "epochs": args.epochs,
                 "input_size": args.input_size, "seed": args.seed,
                 "pretrained_path": args.pretrained_path, "backbone": args.backbone}
    settings = validated(AnatomySettings, {k: v for k, v in overrides.items() if v is not None},
                         flags={"synthetic_studies": "--synthetic"})
    sources = []
    if args.coco:
        sources.append(coco_source(args.coco, args.images, args.masks))
    if args.imagenome:
        sources.append(imagenome_source(args.imagenome, args.images))
    if not sources and not settings.synthetic_studies:
        raise UsageError("nothing to train on (give --coco, --imagenome or --synthetic)")
    report = train_detector(sources, args.out, settings)
    counts = ", ".join(f"{name}: {count}" for name, count in report.images_per_source.items())
    print(f"trained on {counts} in {report.seconds:.0f} s ({report.steps} steps, loss "
          f"{report.first_loss:.3f} -> {report.last_loss:.3f}); model in {report.model_dir}")
    return 0


def _check_training_inputs(args: argparse.Namespace) -> None:
    """The training inputs named on the command line exist and are of the right kind."""
    fix = "give the path of your download (see `cxralign anatomy train --help`)"
    if args.coco:
        existing_file(args.coco, "--coco annotations", fix)
    for flag, folder in (("--images", args.images), ("--masks", args.masks),
                         ("--imagenome", args.imagenome)):
        if folder is not None:
            existing_dir(folder, f"{flag} folder", fix)
    if args.pretrained_path:
        existing_file(Path(args.pretrained_path), "--pretrained-path weights", fix)
    writable_target(args.out, "--out", "directory")


def model_dir(path: Path | None) -> Path | None:
    """``--model``: ``None``, or a directory ``anatomy train`` wrote (config and weights)."""
    if path is None:
        return None
    fix = ("train one with `cxralign anatomy train --out DIR`, or leave out --model to place "
           "the boxes by the atlas")
    existing_dir(path, "model directory", fix)
    from cxralign.anatomy.detector import CONFIG_FILE, WEIGHTS_FILE  # imports torch: after

    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise UsageError(f"model directory {path} has no {name}; {fix}")
    return path


def _min_score(args: argparse.Namespace) -> AnatomySettings:
    """The anatomy settings with ``--min-score`` applied (a usage error when out of range)."""
    overrides = {"min_score": args.min_score}
    return validated(AnatomySettings, {k: v for k, v in overrides.items() if v is not None})


def _image_files(folder: Path) -> list[Path]:
    from cxralign.io.layouts import IMAGE_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _detect_rows(files: list[Path], folder: Path, args: argparse.Namespace) -> Iterator[dict]:
    """Rows of the detect table, chunk by chunk, in the ORIGINAL images' pixels."""
    from cxralign.anatomy.dataset import load_image
    from cxralign.anatomy.detector import load_detector
    from cxralign.anatomy.locate import locate
    from cxralign.io.ingest import IngestSettings
    from cxralign.io.rejections import Rejection

    detector = load_detector(args.model) if args.model else None
    min_score = _min_score(args).min_score
    size = IngestSettings().staged_size
    for start in range(0, len(files), DETECT_CHUNK):
        names, staged, scales = [], [], []
        for path in files[start : start + DETECT_CHUNK]:
            try:
                loaded = load_image(path, size)
            except (Rejection, OSError) as error:
                print(f"skipped {path.name}: {getattr(error, 'reason', type(error).__name__)}",
                      file=sys.stderr)
                continue
            names.append(path.relative_to(folder).as_posix())
            staged.append(loaded.staged)
            scales.append(loaded.scale)
        for name, scale, boxes in zip(names, scales, locate(staged, detector, min_score),
                                      strict=True):
            for region, (x1, y1, x2, y2, score, source) in boxes.items():
                yield {"image": name, "region": region, "x1": x1 / scale, "y1": y1 / scale,
                       "x2": x2 / scale, "y2": y2 / scale, "score": score, "source": source}


def _detect(args: argparse.Namespace) -> int:
    folder = existing_dir(Path(args.images), "image folder",
                          "give the folder holding the DICOM/PNG/JPEG images")
    model_dir(args.model)
    _min_score(args)
    writable_target(args.out, "--out", "file")
    files = _image_files(folder)
    table = pa.Table.from_pylist(list(_detect_rows(files, folder, args)), schema=DETECT_SCHEMA)
    write_parquet_atomically(table, args.out)
    sources = table.column("source").value_counts().to_pylist()
    counts = ", ".join(f"{item['counts']} {item['values']}" for item in sources)
    images = len(set(table.column("image").to_pylist()))
    print(f"{images} of {len(files)} images: {table.num_rows} boxes ({counts}) -> {args.out}")
    return 0


def _boxes(args: argparse.Namespace) -> int:
    from cxralign.io.catalog import Catalog
    from cxralign.upstream import require_partition_tables

    settings = _min_score(args)
    catalog = Catalog(args.data)
    require_partition_tables(catalog, args.partition, ["images"])
    model_dir(args.model)
    from cxralign.anatomy.partitions import load_optional_detector, write_boxes  # torch: after

    boxes = write_boxes(catalog, args.partition, load_optional_detector(model_dir(args.model)),
                        settings)
    sources = boxes.column("source").value_counts().to_pylist()
    counts = ", ".join(f"{item['counts']} {item['values']}" for item in sources)
    images = len(set(boxes.column("image_id").to_pylist()))
    print(f"partition {args.partition}: {images} images, {boxes.num_rows} boxes ({counts})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``anatomy train``, ``anatomy detect`` and ``anatomy boxes`` to the console script's
    sub-parsers."""
    anatomy = commands.add_parser(
        "anatomy",
        help="train the anatomical region detector, or box the 29 regions on images",
        description="Boxes for the 29 Chest ImaGenome regions: train a detector from gold "
        "boxes, or detect them on a folder of images (atlas fallback without a model).",
    )
    sub = anatomy.add_subparsers(dest="anatomy_command", required=True, metavar="COMMAND")
    defaults = AnatomySettings()

    train = sub.add_parser(
        "train", help="train a detector from COCO / Chest ImaGenome boxes and phantoms",
        description="Train the region detector on COCO boxes (e.g. lungs), Chest ImaGenome "
        "scene graphs and generated phantom radiographs; write weights, config and atlas.",
    )
    train.add_argument("--coco", type=Path, help="COCO annotations JSON")
    train.add_argument("--images", type=Path, help="folder holding the annotated images")
    train.add_argument("--masks", type=Path,
                       help="folder of binary lung masks named like the COCO images (optional; "
                       "a dense training signal that improves the lung boxes)")
    train.add_argument("--imagenome", type=Path, help="folder of Chest ImaGenome scene graphs")
    train.add_argument("--out", type=Path, required=True, help="model directory to write")
    train.add_argument("--synthetic", type=int,
                       help=f"phantom images added (default {defaults.synthetic_studies})")
    train.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    train.add_argument("--input-size", type=int, help=f"default {defaults.input_size}")
    train.add_argument("--backbone", help=f"timm backbone (default {defaults.backbone})")
    train.add_argument("--pretrained-path", help="local backbone weights file (optional)")
    train.add_argument("--seed", type=int, help=f"default {defaults.seed}")
    train.set_defaults(handler=_train)

    detect = sub.add_parser(
        "detect", help="box the 29 regions on every image of a folder",
        description="Write one row per image and region (original-image pixels, score, "
        "source) to a Parquet file. Without --model the atlas places every box.",
    )
    detect.add_argument("images", type=Path, help="folder of DICOM/PNG/JPEG images")
    detect.add_argument("--model", type=Path, help="model directory from `anatomy train`")
    detect.add_argument("--out", type=Path, required=True, help="output Parquet file")
    detect.add_argument("--min-score", type=float,
                        help=f"detector boxes below this use the atlas (default {defaults.min_score})")
    detect.set_defaults(handler=_detect)

    boxes = sub.add_parser(
        "boxes", help="box the 29 regions on one partition of the catalog's images",
        description="Write the boxes table (staged pixels, score, source) of one partition of "
        "the catalog under DATA, as the anatomy_boxes asset does. Without --model the atlas "
        "places every box.",
    )
    boxes.add_argument("--data", type=Path, default=default_data_dir(),
                   help="data directory (catalog root; default $CXRALIGN_DATA_DIR or ./data)")
    boxes.add_argument("--partition", required=True, help="partition (batch) name")
    boxes.add_argument("--model", type=Path, help="model directory from `anatomy train`")
    boxes.add_argument("--min-score", type=float,
                       help=f"detector boxes below this use the atlas (default {defaults.min_score})")
    boxes.set_defaults(handler=_boxes)
