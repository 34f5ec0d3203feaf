"""Region detector on real radiographs: patient-grouped cross-validation of the lung boxes.

Data: ``../shared/data/covid_lung_boxes`` (163 real PA/AP radiographs, radiologist boxes for
both lungs, COCO; lung masks, used as ``anatomy train --masks`` uses them). Folds group
images by ``metadata.patientid`` so no patient is in both a training and a test fold. Per fold, the detector is trained exactly as ``train_detector``
trains it (the fold's real boxes plus phantom radiographs, same augmentation and loss, for
``--steps`` steps), and the atlas is fit on the same training images. Reported per lung (IoU
with the radiologist box on the held-out fold): mean, median and share >= 0.5, for

- ``detector``: the network's boxes as ``Detector.predict`` returns them (flip-averaged, lung
  boxes refined with the predicted lung mask);
- ``detector, no lung refinement``: the same network's edge-profile boxes alone;
- ``detector, no flip average``: the same network on the image alone;
- ``pipeline``: what the ``boxes`` table holds (detector where its score >= min_score,
  atlas elsewhere);
- ``atlas alone``: no detector (the average layout in the image content; identical for the
  lungs to the baseline below, listed because it is what a run without a model writes);
- ``average lung box``: the constant baseline (the training folds' median box relative to the
  image content).

Also timed: training seconds per fold, and inference images/s (``Detector.predict`` on staged
256 x 256 arrays, batch of 32). Torch threads per fold are set by ``--threads`` (default 1: the CPU is
shared, and two threads contending with other processes were 5x slower than one here);
``--jobs`` folds train at once in separate processes (their seconds then include waiting for
the CPU). ``--steps`` defaults to what ``anatomy train`` would run on a fold's images.
``--set KEY=VALUE`` (repeatable) overrides an ``AnatomySettings`` field, e.g.
``--set lung_mask_weight=0`` for boxes alone.
Run: ``python benchmarks/anatomy.py [--folds 5] [--steps N] [--threads 1] [--jobs 1]``; writes the
tables to ``benchmarks/.work/RESULTS-anatomy.md`` for copying into ``benchmarks/RESULTS.md``. ``--write-default-atlas`` instead rebuilds the packaged
atlas (all real boxes + the phantoms).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from cxralign.anatomy.atlas import DEFAULT_ATLAS, LUNGS
from cxralign.anatomy.dataset import GoldArrays, stage_source
from cxralign.anatomy.detector import Detector
from cxralign.anatomy.geometry import REGION_INDEX, box_iou, content_extent
from cxralign.anatomy.locate import locate
from cxralign.anatomy.model import RegionDetectorNet
from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.sources import coco_source, phantom_source
from cxralign.anatomy.train import default_steps, detector_config, fit_network, layout_atlas
from cxralign.io.ingest import IngestSettings
from cxralign.synthetic import synthesize

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "covid_lung_boxes"
TARGET_MEAN, TARGET_SHARE = 0.86, 0.99


def patient_folds(groups: tuple[str, ...], folds: int, seed: int) -> np.ndarray:
    """Fold number per image; whole patients are assigned round-robin after a seeded shuffle."""
    patients = sorted(set(groups))
    np.random.default_rng(seed).shuffle(patients)
    fold_of = {patient: index % folds for index, patient in enumerate(patients)}
    return np.array([fold_of[group] for group in groups])


def lung_ious(predicted: list[dict], gold: GoldArrays, side: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in LUNGS}
    for boxes, gold_boxes, mask in zip(predicted, gold.boxes, gold.mask, strict=True):
        for name in LUNGS:
            if mask[REGION_INDEX[name]]:
                iou = box_iou(np.asarray(boxes[name][:4]), gold_boxes[REGION_INDEX[name]] * side)
                out[name].append(float(iou))
    return out


def summarise(ious: list[float]) -> str:
    values = np.asarray(ious)
    return f"{values.mean():.3f} | {np.median(values):.3f} | {(values >= 0.5).mean():.3f}"


def _train_fold(job: tuple[GoldArrays, GoldArrays, AnatomySettings, int, int]) -> tuple[dict, float]:
    """One fold's network, trained in a worker process: (state dict, seconds)."""
    train, phantoms, settings, steps, threads = job
    torch.set_num_threads(threads)
    started = time.perf_counter()
    net, _ = fit_network([train, phantoms], settings, steps=steps)
    return net.state_dict(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per fold (default: what `anatomy train` runs, "
                        "settings.epochs passes over the fold's training images + phantoms)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fold")
    parser.add_argument("--jobs", type=int, default=1, help="folds trained in parallel processes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override an AnatomySettings field (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / ".work" / "RESULTS-anatomy.md")
    parser.add_argument("--write-default-atlas", action="store_true",
                        help="only rebuild the packaged atlas from all real boxes + phantoms")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = AnatomySettings(**overrides).with_epochs_for(real_data=True)
    side = IngestSettings().staged_size

    gold = coco_source(DATA / "annotations.json", DATA / "images", DATA / "lung_masks")
    real = stage_source(gold, side, 2)
    with tempfile.TemporaryDirectory() as scratch:
        synthesize(Path(scratch), settings.synthetic_studies, seed=settings.seed, workers=2)
        phantoms = stage_source(phantom_source(Path(scratch)), side, 2)
    if args.write_default_atlas:
        layout_atlas([real], phantoms).save(ROOT / "cxralign" / "anatomy" / DEFAULT_ATLAS)
        return
    fold = patient_folds(real.groups, args.folds, settings.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    methods = ("detector", "detector, no lung refinement", "detector, no flip average",
               "pipeline", "atlas alone", "average lung box")
    results = {method: {name: [] for name in LUNGS} for method in methods}
    splits = [(real.subset(np.flatnonzero(fold != k)), real.subset(np.flatnonzero(fold == k)))
              for k in range(args.folds)]
    steps = [args.steps or default_steps(len(train) + len(phantoms), settings)
             for train, _ in splits]
    jobs = [(train, phantoms, settings, fold_steps, args.threads)
            for (train, _), fold_steps in zip(splits, steps, strict=True)]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        trained = list(pool.map(_train_fold, jobs))
    train_seconds, speeds = [seconds for _, seconds in trained], []
    for k, ((train, test), (state, seconds)) in enumerate(zip(splits, trained, strict=True)):
        config = detector_config([train], settings)
        net = RegionDetectorNet(settings.backbone)
        net.load_state_dict(state)
        torch.save(state, args.out.parent / f"anatomy-fold-{k}.pt")  # for later inference studies
        atlas = layout_atlas([train], phantoms)
        detector = Detector(net, config, atlas)
        images = list(test.images)
        started = time.perf_counter()
        predicted = detector.predict(test.images)
        speeds.append(len(images) / (time.perf_counter() - started))
        single = Detector(net, replace(config, flip_average=False), atlas).predict(test.images)
        boxes_alone = Detector(net, replace(config, lung_mask_offsets=None), atlas)
        average = [atlas.average_lungs(*content_extent(image)) for image in images]
        outputs = {
            "detector": predicted,
            "detector, no lung refinement": boxes_alone.predict(test.images),
            "detector, no flip average": single,
            "pipeline": locate(images, detector, settings.min_score),
            "atlas alone": [atlas.boxes(image) for image in images],
            "average lung box": average,
        }
        for method, boxes in outputs.items():
            for name, values in lung_ious(boxes, test, side).items():
                results[method][name].extend(values)
        print(f"fold {k}: {len(images)} test images, trained {seconds:.0f} s, "
              f"detector {summarise(results['detector']['right lung'])} (right, so far)",
              flush=True)
    write_results(args, settings, results, train_seconds, steps, speeds, len(real), len(phantoms))


def write_results(args, settings, results, train_seconds, steps, speeds, real_count,
                  phantom_count) -> None:
    described = f"{min(steps)}" if min(steps) == max(steps) else f"{min(steps)}-{max(steps)}"
    lines = [
        "# Anatomy: lung boxes on real radiographs (patient-grouped cross-validation)",
        "",
        f"Data: `covid_lung_boxes` ({real_count} real radiographs with radiologist lung boxes), "
        f"{args.folds} folds grouped by patient; each fold's detector trained on the other folds' "
        f"real boxes + {phantom_count} phantom radiographs for {described} steps "
        f"(batch {settings.batch_size}, {settings.backbone} from random init, input "
        f"{settings.input_size} px, lung-mask loss weight {settings.lung_mask_weight}). "
        f"Target: mean IoU >= {TARGET_MEAN} per lung and IoU >= 0.5 on >= {TARGET_SHARE:.0%} "
        "of images.",
        "",
        "| method | lung | mean IoU | median IoU | share IoU >= 0.5 |",
        "|---|---|---|---|---|",
    ]
    for method, per_lung in results.items():
        for name in LUNGS:
            lines.append(f"| {method} | {name} | {summarise(per_lung[name])} |")
    lines += [
        "",
        f"Training: {np.mean(train_seconds):.0f} s per fold ({described} steps, "
        f"{np.sum(train_seconds) / np.sum(steps):.2f} s/step), torch threads = {args.threads}, "
        f"{args.jobs} fold(s) at a time, "
        f"on a CPU shared with other jobs ({platform.processor() or platform.machine()}).",
        f"Inference (`Detector.predict`, flip-averaged, staged 256 px arrays): "
        f"{np.mean(speeds):.1f} images/s.",
        "",
        f"Reproduce: `python benchmarks/anatomy.py --folds {args.folds}"
        + (f" --steps {args.steps}" if args.steps else "")
        + f" --threads {args.threads} --jobs {args.jobs}"
        + "".join(f" --set {item}" for item in args.set) + "`.",
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
