"""The text subcommands of the ``cxralign`` console script: ``triplets``, ``sections`` and
``evaluate-text``. :func:`register` adds them to the script's sub-parsers; each handler calls
the same library functions the Dagster assets call and returns an exit status."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa

from cxralign.io.atomic import atomic_path, write_parquet_atomically
from cxralign.text.settings import TextSettings

DEFAULT_IU_DIR = Path("..") / "shared" / "data" / "iu_xray_reports"


def _sections(args: argparse.Namespace) -> int:
    from cxralign.text.pipeline import sections_table
    from cxralign.text.readers import read_reports

    reports = read_reports(args.input)
    sections, rejected = sections_table(reports)
    write_parquet_atomically(sections, args.out)
    print(
        f"{reports.num_rows} reports: {sections.num_rows} sectioned, "
        f"{rejected.num_rows} rejected -> {args.out}"
    )
    for reason, count in sorted(Counter(rejected.column("reason").to_pylist()).items()):
        print(f"  rejected {reason}: {count}")
    return 0


def _triplets(args: argparse.Namespace) -> int:
    from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table
    from cxralign.text.readers import read_reports

    try:
        parser = load_parser(args.backend)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reports = read_reports(args.input)
    sections, rejected = sections_table(reports)
    sentences = sentences_table(sections)
    triplets = triplets_table(sentences, parser)
    text_of = {
        (study, index): text
        for study, index, text in zip(
            sentences.column("study_id").to_pylist(),
            sentences.column("sentence_index").to_pylist(),
            sentences.column("text").to_pylist(),
            strict=True,
        )
    }
    keys = zip(
        triplets.column("study_id").to_pylist(),
        triplets.column("sentence_index").to_pylist(),
        strict=True,
    )
    sentence_column = pa.array([text_of[key] for key in keys], pa.string())
    out = triplets.add_column(2, "sentence", sentence_column)
    write_parquet_atomically(out, args.out)
    existence = Counter(triplets.column("existence").to_pylist())
    print(f"backend: {parser.backend_name}")
    print(
        f"{reports.num_rows} reports ({rejected.num_rows} rejected), {sentences.num_rows} sentences, "
        f"{triplets.num_rows} triplets ({existence['present']} present, {existence['absent']} absent, "
        f"{existence['uncertain']} uncertain) -> {args.out}"
    )
    return 0


def _find_iu_dir(given: Path | None) -> Path | None:
    if given is not None:
        return given if given.is_dir() else None
    repo_root = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), repo_root):
        candidate = (base / DEFAULT_IU_DIR).resolve()
        if candidate.is_dir():
            return candidate
    return None


def _evaluate(args: argparse.Namespace) -> int:
    from cxralign.text.evaluation import evaluate, to_markdown
    from cxralign.text.pipeline import load_parser

    directory = _find_iu_dir(args.iu_dir)
    if directory is None:
        looked_for = args.iu_dir or DEFAULT_IU_DIR
        print(f"error: no OpenI report directory (looked for {looked_for})", file=sys.stderr)
        return 2
    parser = load_parser(args.backend)
    markdown = to_markdown(evaluate(directory, parser), parser.backend_name)
    print(markdown, end="")
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(markdown, encoding="utf-8")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``triplets``, ``sections`` and ``evaluate-text`` to the ``cxralign`` sub-parsers."""
    inputs = (
        "INPUT is a directory of OpenI XML files, a directory tree of MIMIC-CXR .txt reports, or "
        "a CSV with study_id,text columns."
    )
    trip = commands.add_parser(
        "triplets",
        help="extract <region, finding, existence> triplets from reports",
        description="Split reports into sections and sentences and write one row per triplet "
        "(study_id, sentence_index, sentence, region, finding, existence, evidence, cue). " + inputs,
    )
    trip.add_argument("input", type=Path, help="reports directory or CSV")
    trip.add_argument("--out", type=Path, required=True, help="output Parquet file")
    trip.add_argument(
        "--backend", choices=("auto", "rules", "stanza"), default=TextSettings().backend,
        help="auto: stanza when its mimic/radiology models are installed, else rules (default)",
    )
    trip.set_defaults(handler=_triplets)

    sec = commands.add_parser(
        "sections",
        help="extract report sections (findings, impression, ...)",
        description="Write one row per report with its findings, impression, indication, "
        "comparison, history and technique sections. " + inputs,
    )
    sec.add_argument("input", type=Path, help="reports directory or CSV")
    sec.add_argument("--out", type=Path, required=True, help="output Parquet file")
    sec.set_defaults(handler=_sections)

    ev = commands.add_parser(
        "evaluate-text",
        help="score the triplet parser against OpenI MeSH terms",
        description="Report-level precision/recall/F1 per finding, the share of MeSH-normal "
        "reports without a positive finding and side/zone agreement, on a dev half, a confirm "
        f"half and all reports. IU_DIR defaults to {DEFAULT_IU_DIR} from the working directory "
        "or the repository root.",
    )
    ev.add_argument("iu_dir", nargs="?", type=Path, default=None, metavar="IU_DIR",
                    help="directory of OpenI XML reports with MeSH terms")
    ev.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ev.add_argument("--backend", choices=("auto", "rules", "stanza"), default="rules",
                    help="triplet backend (default rules)")
    ev.set_defaults(handler=_evaluate)
