"""Writing an evaluation run: ``metrics.json`` (``{recipe: {metric: {mean, std, seeds,
values}}}``), ``details.json`` (per model: metrics, per-finding AUCs, probe runs, retrieval
examples), ``summary.md`` (recipe × metric table, mean ± std, and the verdict), the PNG plots,
and the catalog table ``evaluation_metrics`` (one row per recipe and metric)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from cxralign.eval.plots import metric_bars, retrieval_examples
from cxralign.eval.run import RunOutcome, aggregate
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.verdict import Comparison, compare
from cxralign.io.atomic import atomic_path
from cxralign.io.catalog import Catalog

METRICS_TABLE: Final = "evaluation_metrics"
METRICS_SCHEMA: Final = pa.schema([
    ("recipe", pa.string()), ("metric", pa.string()), ("mean", pa.float64()),
    ("std", pa.float64()), ("n_seeds", pa.int64()), ("seeds", pa.list_(pa.int64())),
])
TABLE_METRICS: Final = (
    "i2t_R@1", "i2t_R@5", "i2t_R@10", "t2i_R@1", "t2i_R@5", "t2i_R@10",
    "grounding_top1", "grounding_mean_rank", "zero_shot_macro_auc",
    "probe_auc@1%", "probe_auc@10%", "probe_auc@100%", "segmentation_dice",
    "BLEU-1", "BLEU-4", "ROUGE-L",
)
"""Headline metrics in the summary table and bar chart (metrics.json holds every metric)."""


@dataclass(frozen=True)
class EvaluationReport:
    """Where everything went, the summary Markdown and the primary-vs-baseline verdict."""

    out_dir: Path
    metrics_path: Path
    summary_path: Path
    plots: tuple[Path, ...]
    summary: dict[str, dict[str, dict]]
    markdown: str
    comparisons: tuple[Comparison, ...]


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def metrics_table(summary: dict[str, dict[str, dict]]) -> pa.Table:
    """The ``evaluation_metrics`` rows of a summary."""
    rows = [{"recipe": recipe, "metric": metric, "mean": values["mean"], "std": values["std"],
             "n_seeds": len(values["seeds"]), "seeds": values["seeds"]}
            for recipe, metrics in summary.items() for metric, values in metrics.items()]
    return pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)


def _cell(values: dict | None) -> str:
    if not values or values["mean"] is None:
        return "–"
    return f"{values['mean']:.3f} ± {values['std']:.3f}"


def summary_markdown(summary: dict[str, dict[str, dict]], comparisons: Sequence[Comparison],
                     notes: Sequence[str], metrics: Sequence[str] = TABLE_METRICS) -> str:
    """Recipe × metric table (mean ± std over seeds, n seeds), verdict and notes."""
    shown = [m for m in metrics if any(m in summary[r] for r in summary)]
    lines = ["# Downstream evaluation", "",
             "| recipe | seeds | " + " | ".join(shown) + " |",
             "|---|---|" + "---|" * len(shown)]
    for recipe, values in summary.items():
        seeds = sorted({s for v in values.values() for s in v["seeds"]})
        lines.append(f"| {recipe} | {len(seeds)} | "
                     + " | ".join(_cell(values.get(m)) for m in shown) + " |")
    if comparisons:
        lines += ["", "## Primary recipe against the baselines (grounding, retrieval)", ""]
        lines += [f"- {c.sentence()}" for c in comparisons]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _notes(settings: EvaluationSettings, outcome: RunOutcome) -> list[str]:
    notes = [
        f"held-out split: images.split = {settings.split!r}; probe and report-generation "
        f"training data: {settings.train_split!r}",
        f"labels: present → 1, absent or unmentioned → 0, uncertain-only → "
        f"{settings.uncertain} (zero-shot and probe)",
        f"zero-shot prompts: {settings.positive_prompt!r} vs {settings.negative_prompt!r}",
        f"linear probe: standardised mean-pooled backbone features, one logistic regression per "
        f"finding with ≥ {settings.probe_min_positives} training positives, label fractions "
        f"{settings.probe_fractions} × subset seeds {settings.probe_seeds} (per model: mean "
        f"over subsets; table: mean ± std over model seeds)",
        "grounding: each held-out sentence with a region pair row vs all of its image's boxes; "
        "grounding_chance_top1 is what random scores would reach",
        "std is the sample standard deviation over model seeds (0 with one seed)",
    ]
    if outcome.segmentation_note:
        notes.append(outcome.segmentation_note)
    return notes


def _detail_record(spec, evaluation) -> dict[str, Any]:
    return {
        "recipe": spec.label, "seed": spec.seed,
        "model_dir": str(spec.directory) if spec.directory else None,
        "metrics": evaluation.metrics, "details": evaluation.details,
        "retrieval_examples": [{k: v for k, v in e.items() if k != "pixels"}
                               for e in evaluation.examples],
    }


def write_report(
    outcome: RunOutcome, settings: EvaluationSettings, out_dir: Path, primary: str | None = None,
    catalog: Catalog | None = None,
) -> EvaluationReport:
    """Write every output of ``outcome`` under ``out_dir`` (and the catalog table when a
    catalog is given). ``primary`` defaults to the first label evaluated."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = aggregate(outcome)
    primary = primary or (outcome.labels[0] if outcome.labels else None)
    comparisons = tuple(compare(summary, primary)) if primary else ()
    markdown = summary_markdown(summary, comparisons, _notes(settings, outcome))

    metrics_path = out_dir / "metrics.json"
    _write_text(metrics_path, json.dumps(summary, indent=2) + "\n")
    _write_text(out_dir / "details.json", json.dumps(
        [_detail_record(spec, e) for spec, e in outcome.evaluations], indent=2, default=float)
        + "\n")
    summary_path = out_dir / "summary.md"
    _write_text(summary_path, markdown)

    plots = [metric_bars(summary, TABLE_METRICS, out_dir / "metrics.png")]
    first = next(((s, e) for s, e in outcome.evaluations if s.label == primary), None)
    if first and first[1].examples:
        plots.append(retrieval_examples(
            first[1].examples, f"{first[0].label} seed {first[0].seed}: image → report retrieval",
            out_dir / "retrieval_examples.png"))
    if catalog is not None:
        catalog.write_table(METRICS_TABLE, metrics_table(summary))
    return EvaluationReport(out_dir, metrics_path, summary_path, tuple(plots), summary,
                            markdown, comparisons)
