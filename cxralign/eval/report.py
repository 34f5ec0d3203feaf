"""Writing an evaluation run: ``metrics.json``, ``details.json`` (per model: metrics, chance,
trivial baselines, per-finding AUCs, probe runs, retrieval examples), ``summary.md``, the PNG
plots, and the catalog table ``evaluation_metrics`` (one row per recipe and metric).

``metrics.json``: ``{recipe: {metric: {mean, std, seeds, values}}, "chance": {metric: value},
"trivial": {metric: {value, method}}, "generation": {row: {metric: {mean, std, seeds,
values}}}}``; the ``generation`` block holds the region-guided generation scores
(``generation_ce_f1_micro``, ``generation_ce_f1_macro``, ``generation_bleu4``,
``generation_region_f1``, ...) per row (``generator``, ``nearest_neighbour``, ``most_frequent``
of the primary recipe; ``generator:<label>`` for other models), see :func:`generation_summary`,
and summary.md shows it as its own table. Every metric that has a chance level is shown in
``summary.md`` as one row: chance, trivial baseline, then each recipe's mean ± std over model
seeds (``± n/a``, ``std: null``, for one seed; hit rates also as a multiple of chance, AUCs
with the number of findings averaged). The trivial baseline of AUCs is the random-init row; the
``convirt`` and ``random-init`` columns are always there (``not evaluated`` when their models
are missing).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from cxralign.eval.auc import findings_counted
from cxralign.eval.plots import metric_bars, retrieval_examples
from cxralign.eval.run import RANDOM_INIT, RunOutcome, aggregate
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.spread import mean_std
from cxralign.eval.verdict import Comparison, compare
from cxralign.generate.evaluation import GENERATOR, MOST_FREQUENT, PREFIX, row_metric
from cxralign.io.atomic import atomic_path
from cxralign.io.catalog import Catalog

METRICS_TABLE: Final = "evaluation_metrics"
METRICS_SCHEMA: Final = pa.schema([
    ("recipe", pa.string()), ("metric", pa.string()), ("mean", pa.float64()),
    ("std", pa.float64()), ("n_seeds", pa.int64()), ("seeds", pa.list_(pa.int64())),
])
CHANCE: Final = "chance"
TRIVIAL: Final = "trivial"
ALWAYS_SHOWN: Final = ("convirt", RANDOM_INIT)
"""Rows every summary has, marked "not evaluated" when their models are missing."""
RANDOM_INIT_BASELINE: Final = "the random-init encoder row (chance AUC is 0.5 by definition)"
TRIVIAL_METHODS: Final = (
    ("retrieval_", "every query gets the candidates ordered by how common their finding set "
                   "is (ignores the query)"),
    ("grounding_", "an image's boxes ordered by how often their region is named over all "
                   "sentences (ignores image and sentence)"),
    ("zero_shot_auc", RANDOM_INIT_BASELINE),
    ("probe_auc_", RANDOM_INIT_BASELINE),
    ("segmentation_dice", "the pixel-wise majority of the training lung masks, for every image"),
    ("generation_", "the most common training report, for every image (the most_frequent "
                    "row of the generation table)"),
)
"""Metric-name prefix -> what its trivial baseline is."""
GENERATION: Final = "generation"


def generation_summary(outcome: RunOutcome, primary: str | None) -> dict[str, dict[str, dict]]:
    """``metrics.json["generation"]``: ``{row: {metric: {mean, std, seeds, values}}}`` of the
    ``generation_*`` metrics. The primary recipe's models give the rows ``generator``,
    ``nearest_neighbour`` and ``most_frequent``; another label's give ``generator:<label>``
    and ``nearest_neighbour:<label>`` (``most_frequent`` ignores the model)."""
    rows: dict[str, dict[str, dict]] = {}
    for label, metrics in aggregate(outcome).items():
        for key, values in metrics.items():
            row, metric = row_metric(key)
            if not metric.startswith(PREFIX) or (label != primary and row == MOST_FREQUENT):
                continue
            name = row if label == primary else f"{row}:{label}"
            rows.setdefault(name, {})[metric] = values
    order = sorted(rows, key=lambda r: (r.partition(":")[2] != "", r != GENERATOR, r))
    return {row: rows[row] for row in order}


def _generation_key(metric: str) -> bool:
    return row_metric(metric)[1].startswith(PREFIX)


def generation_markdown(rows: dict[str, dict[str, dict]], chance: dict[str, float]) -> str:
    """The report-generation table of ``summary.md``: one column per row of
    :func:`generation_summary`, mean ± std over seeds (± n/a for one seed), chance where there
    is one."""
    if not rows:
        return ""
    metrics = list(dict.fromkeys(m for values in rows.values() for m in values))
    lines = ["## Report generation (held-out split)", "",
             "| metric | chance | " + " | ".join(rows) + " |", "|---|---|" + "---|" * len(rows)]
    for metric in metrics:
        cells = [mean_std(v[metric]["mean"], v[metric]["std"])
                 if v.get(metric, {}).get("mean") is not None else "n/a" for v in rows.values()]
        lines.append(f"| {metric} | {_number(chance.get(metric))} | " + " | ".join(cells) + " |")
    lines += ["", "Clinical efficacy: our triplet parser on generated and reference reports; "
              "present or uncertain = positive; region_f1 counts a finding only in its region; "
              "chance = reference labels shuffled over the held-out reports."]
    return "\n".join(lines) + "\n"


def trivial_method(metric: str) -> str:
    """What the trivial baseline of ``metric`` is (empty when it has none)."""
    return next((method for prefix, method in TRIVIAL_METHODS if metric.startswith(prefix)), "")


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


def _number(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def _cell(values: dict[str, dict], metric: str, chance: float | None) -> str:
    entry = values.get(metric)
    if not entry or entry["mean"] is None:
        return "n/a"
    text = mean_std(entry["mean"], entry["std"])
    if chance and metric.startswith(("retrieval_", "grounding_top1")):
        text += f" ({entry['mean'] / chance:.1f}× chance)"
    counted = findings_counted(metric)
    classes = values.get(counted) if counted != metric else None
    if classes and classes["mean"] is not None:
        text += f" [{classes['mean']:g} findings]"
    return text


def trivial_entries(summary: dict[str, dict[str, dict]], chance: dict[str, float],
                    trivial: dict[str, float]) -> dict[str, dict[str, Any]]:
    """``{metric: {value, method}}`` for every metric with a chance level; AUCs take the
    random-init row's mean as their value (None without that row)."""
    baseline = summary.get(RANDOM_INIT, {})
    entries = {}
    for metric in chance:
        method = trivial_method(metric)
        value = trivial.get(metric)
        if method == RANDOM_INIT_BASELINE:
            value = baseline.get(metric, {}).get("mean")
        entries[metric] = {"value": value, "method": method}
    return entries


def summary_markdown(summary: dict[str, dict[str, dict]], comparisons: Sequence[Comparison],
                     notes: Sequence[str], chance: dict[str, float],
                     trivial: dict[str, dict[str, Any]]) -> str:
    """Metric × (chance, trivial baseline, recipes) table of mean ± std over seeds, verdict
    and notes."""
    recipes = shown_rows(summary)
    lines = ["# Downstream evaluation", "",
             "| metric | chance | trivial baseline | " + " | ".join(recipes) + " |",
             "|---|---|---|" + "---|" * len(recipes),
             "| model seeds | | | " + " | ".join(_seeds(summary.get(r)) for r in recipes) + " |"]
    for metric in chance:
        cells = [_cell(summary[r], metric, chance[metric]) if summary.get(r) else "not evaluated"
                 for r in recipes]
        lines.append(f"| {metric} | {_number(chance[metric])} | "
                     f"{_number(trivial.get(metric, {}).get('value'))} | " + " | ".join(cells)
                     + " |")
    methods = dict.fromkeys(entry["method"] for entry in trivial.values() if entry["method"])
    lines += ["", "Trivial baselines: " + "; ".join(methods) + "." if methods else ""]
    if comparisons:
        lines += ["", "## Primary recipe against the baselines (grounding, retrieval)", ""]
        lines += [f"- {c.sentence()}" for c in comparisons]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def shown_rows(summary: dict[str, dict[str, dict]]) -> list[str]:
    """Evaluated recipes in run order, then the :data:`ALWAYS_SHOWN` ones missing from it,
    with random-init last."""
    rows = [*summary, *(r for r in ALWAYS_SHOWN if r not in summary)]
    return [r for r in rows if r != RANDOM_INIT] + [RANDOM_INIT]


def _seeds(values: dict[str, dict] | None) -> str:
    if not values:
        return "none"
    return ", ".join(str(s) for s in sorted({s for v in values.values() for s in v["seeds"]}))


def _notes(settings: EvaluationSettings, outcome: RunOutcome) -> list[str]:
    notes = [
        f"held-out split: images.split = {settings.split!r}; probe and report-generation "
        f"training data: {settings.train_split!r}",
        "parser labels (study tags): present → 1, absent or unmentioned → 0, "
        f"uncertain-only → {settings.uncertain}",
        "finding labels of probe_auc_* and zero_shot_auc: "
        + "; ".join(", ".join(sources) for sources in _label_sources(outcome))
        + " (phantom ground truth = what is drawn; with both, parser-label scores carry the "
        "suffix _parser)",
        f"zero-shot prompt ensembles: {settings.positive_prompts} vs "
        f"{settings.negative_prompts} (template embeddings averaged)",
        f"linear probe: standardised mean-pooled backbone features, one logistic regression per "
        f"finding with ≥ {settings.probe_min_positives} training positives, label fractions "
        f"{settings.probe_fractions} × subset seeds {settings.probe_seeds} (100 % is one subset, "
        f"probed once); C per finding and subset from {settings.probe_c_grid} by "
        f"{settings.probe_cv_folds}-fold cross-validated AUC on the subset's training images; "
        "subsets stratified (each finding gets a positive and a negative while there is room), "
        "a finding whose subset still lacks a class is n/a, [k findings] = how many the macro "
        "AUC averaged",
        "retrieval: _study = the image's own report or one of identical text; _findings = a "
        "report stating the same set of present findings (parser labels; the empty set, no "
        "finding stated, counts as a set); chance = exact expected recall of a random ranking, "
        "1 - C(n-m, k)/C(n, k) per query with m relevant of n candidates, averaged",
        "grounding: each held-out sentence with a region pair row vs all of its image's boxes; "
        "chance top-1 = named boxes / boxes, chance mean rank = (boxes + 1)/(named + 1)",
        "std is the sample standard deviation over model seeds (n/a with one seed: no gap to "
        "such a row is called separated)",
    ]
    if outcome.segmentation_note:
        notes.append(outcome.segmentation_note)
    for key in ("segmentation_skipped", "labels_note", "probe_skipped", "probe_parser_skipped"):
        notes.extend(outcome.detail_notes(key))
    return notes


def _label_sources(outcome: RunOutcome) -> list[tuple[str, ...]]:
    return list(dict.fromkeys(tuple(e.details.get("labels", ())) for _, e in outcome.evaluations))


def _detail_record(spec, evaluation) -> dict[str, Any]:
    return {
        "recipe": spec.label, "seed": spec.seed,
        "model_dir": str(spec.directory) if spec.directory else None,
        "metrics": evaluation.metrics, "chance": evaluation.chance,
        "trivial": evaluation.trivial, "details": evaluation.details,
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
    generation = generation_summary(outcome, primary)
    summary = {label: {m: v for m, v in metrics.items() if not _generation_key(m)}
               for label, metrics in summary.items()}
    all_chance = outcome.reference(CHANCE)
    chance = {m: v for m, v in all_chance.items() if not _generation_key(m)}
    trivial = trivial_entries(summary, all_chance, outcome.reference(TRIVIAL))
    markdown = summary_markdown(summary, comparisons, _notes(settings, outcome), chance, trivial)
    generation_table = generation_markdown(generation, all_chance)
    markdown += f"\n{generation_table}" if generation_table else ""

    metrics_path = out_dir / "metrics.json"
    recipes = {r: summary.get(r, {}) for r in shown_rows(summary)}
    _write_text(metrics_path, json.dumps(
        {**recipes, CHANCE: all_chance, TRIVIAL: trivial, GENERATION: generation}, indent=2)
        + "\n")
    _write_text(out_dir / "details.json", json.dumps(
        [_detail_record(spec, e) for spec, e in outcome.evaluations], indent=2, default=float)
        + "\n")
    summary_path = out_dir / "summary.md"
    _write_text(summary_path, markdown)

    plots = [metric_bars(summary, list(chance), out_dir / "metrics.png", chance)]
    first = next(((s, e) for s, e in outcome.evaluations if s.label == primary), None)
    if first and first[1].examples:
        plots.append(retrieval_examples(
            first[1].examples, f"{first[0].label} seed {first[0].seed}: image → report retrieval",
            out_dir / "retrieval_examples.png"))
    if catalog is not None:
        catalog.write_table(METRICS_TABLE, metrics_table(summary))
    return EvaluationReport(out_dir, metrics_path, summary_path, tuple(plots), summary,
                            markdown, comparisons)
