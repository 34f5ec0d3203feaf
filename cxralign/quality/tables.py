"""What each gate validates: the stage table read from a data directory (all of it, or the
partitions a run produced), shaped by ``views`` into the columns its suite expects.

A gate may validate several tables at once: ``training_log`` has one per trained model
(``<recipe>/seed-<k>``), because each run logs its own loss terms and its own step sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from great_expectations.expectations import Expectation

from cxralign.io.catalog import Catalog
from cxralign.io.rejections import REJECTED_SCHEMA
from cxralign.layout import PRETRAIN_MODELS_DIR, pretrain_run_dir
from cxralign.quality.suites import SUITES, training_log_suite
from cxralign.quality.views import (
    boxes_geometry,
    evaluation_completeness,
    pairs_references,
    report_findings_with_triplets,
    sections_coverage,
    sentences_in_sections,
    training_log_with_increments,
    triplets_with_evidence,
)
from cxralign.train.output import LOG_FILE
from cxralign.train.runs import parse_run_partition

Partitions = list[str] | None
"""Catalog partitions (incoming batches) to validate; ``None`` means all of them."""


def _rejected_inputs(catalog: Catalog, partitions: Partitions) -> pa.Table:
    """A batch's quarantine rows: its own partition plus its ``<batch>.<stage>`` ones (none is
    an empty table: nothing was rejected)."""
    every = catalog.partitions("rejected_inputs")
    chosen = every if partitions is None else [
        p for p in every if any(p == b or p.startswith(f"{b}.") for b in partitions)
    ]
    return catalog.read_table("rejected_inputs", chosen) if chosen else REJECTED_SCHEMA.empty_table()


def _reader(catalog: Catalog, partitions: Partitions) -> Callable[[str], pa.Table]:
    def read(name: str) -> pa.Table:
        if partitions is not None:
            missing = [p for p in partitions if not catalog.partition_path(name, p).is_file()]
            if missing:
                raise FileNotFoundError(f"table {name!r} has no partition {', '.join(missing)}")
        return catalog.read_table(name, partitions)

    return read


def _catalog_table(name: str, catalog: Catalog, partitions: Partitions) -> pa.Table:
    read = _reader(catalog, partitions)
    shaped: dict[str, Callable[[], pa.Table]] = {
        "rejected_inputs": lambda: _rejected_inputs(catalog, partitions),
        "sections": lambda: sections_coverage(read("reports"), read("sections")),
        "sentences": lambda: sentences_in_sections(read("sentences"), read("sections")),
        "triplets": lambda: triplets_with_evidence(read("triplets"), read("sentences")),
        "report_findings": lambda: report_findings_with_triplets(read("report_findings"),
                                                                 read("triplets")),
        "boxes": lambda: boxes_geometry(read("boxes"), read("images")),
        "pairs": lambda: pairs_references(read("pairs"), read("sentences"), read("boxes")),
        # cxralign.eval.report.METRICS_TABLE (not imported: that module pulls in torch).
        "evaluation_metrics": lambda: evaluation_completeness(read("evaluation_metrics")),
    }
    return shaped.get(name, lambda: read(name))()


def training_logs(data_dir: Path, runs: Partitions = None) -> dict[str, pa.Table]:
    """The pre-trained models' training logs (``<data>/models/pretrain/<recipe>/seed-<k>/
    training_log.parquet``), by ``<recipe>/seed-<k>``, with step increments: those of
    ``runs`` (recipe × seed partition keys, ``asg|0``), or every model's for ``None``."""
    root = Path(data_dir) / PRETRAIN_MODELS_DIR
    if runs is None:
        logs = sorted(root.glob(f"*/*/{LOG_FILE}"))
    else:
        logs = [pretrain_run_dir(data_dir, *parse_run_partition(run)) / LOG_FILE for run in runs]
        logs = [path for path in logs if path.is_file()]
    if not logs:
        raise FileNotFoundError(f"no {LOG_FILE} under {root}/<recipe>/<seed>/")
    return {
        path.parent.relative_to(root).as_posix(): training_log_with_increments(pq.read_table(path))
        for path in logs
    }


def gated_tables(name: str, data_dir: Path, partitions: Partitions = None) -> dict[str, pa.Table]:
    """The table(s) the ``name`` gate validates, by a label a person recognises (the partitions,
    or a model's ``<recipe>/seed-<k>``). Raises ``FileNotFoundError`` when a stage's output is
    missing altogether."""
    if name == "training_log":
        return training_logs(data_dir, partitions)
    if name not in SUITES:
        raise KeyError(f"no suite for table {name!r}; known: {', '.join(SUITES)}")
    label = ",".join(partitions) if partitions else "all"
    return {label: _catalog_table(name, Catalog(Path(data_dir)), partitions)}


def suite_for(name: str, table: pa.Table) -> list[Expectation]:
    """The expectations of ``name``'s suite for this table (a training log's loss terms are
    whatever ``loss_<term>`` columns its recipe logged)."""
    if name == "training_log":
        losses = [c for c in table.column_names if c == "loss" or c.startswith("loss_")]
        return training_log_suite(losses or ["loss"])
    return SUITES[name]()
