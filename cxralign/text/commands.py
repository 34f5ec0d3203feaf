"""The text subcommands of the ``cxralign`` console script: ``triplets``, ``sections``,
``evaluate-text``, ``fit-text-calibrator``. :func:`register` adds them to the script's
sub-parsers; each handler calls the same library functions the Dagster assets call and returns
an exit status.

``sections`` and ``triplets`` work on report files (``INPUT --out FILE``) or, with ``--data
DATA --partition P``, on one partition of the catalog exactly like the assets (``dvc.yaml``
uses that mode). In file mode every rejected report is named (its study id, or ``row N`` of a
CSV) with its reason, on the terminal and in a ``rejected_inputs``-shaped Parquet file beside
the output."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from cxralign.errors import UsageError, existing_dir, existing_path, validated
from cxralign.io.atomic import atomic_path, write_parquet_atomically
from cxralign.io.catalog import DEFAULT_PARTITION
from cxralign.text.settings import TextLimits, TextSettings

if TYPE_CHECKING:
    from cxralign.text.calibration import Calibrator
    from cxralign.text.pipeline import TripletParser

DEFAULT_IU_DIR = Path("..") / "shared" / "data" / "iu_xray_reports"


def _file_or_catalog(args: argparse.Namespace, reads: str) -> str:
    """Which mode the arguments ask for (``file`` or ``catalog``), after checking that what
    that mode reads is there (INPUT, or the partition's ``reads`` table in the catalog)."""
    from cxralign.io.catalog import Catalog
    from cxralign.upstream import require_partition_tables

    _limits(args)
    if args.data is not None and args.input is None and args.out is None:
        require_partition_tables(Catalog(args.data), args.partition, [reads])
        return "catalog"
    if args.data is None and args.input is not None and args.out is not None:
        existing_path(args.input, "input", "give a directory of reports (OpenI XML, MIMIC-CXR "
                      ".txt tree) or a .csv with study_id,text columns")
        if args.input.is_file() and args.input.suffix.lower() != ".csv":
            raise UsageError(f"input {args.input} is a file but not a .csv (study_id,text); "
                             "give the directory holding the reports or such a CSV")
        return "file"
    raise UsageError("give INPUT and --out FILE, or --data DATA [--partition P]")


def _sections_catalog(args: argparse.Namespace) -> int:
    from cxralign.io.catalog import Catalog
    from cxralign.text.partitions import write_sections

    sections, rejected = write_sections(Catalog(args.data), args.partition, _limits(args))
    print(f"partition {args.partition}: {sections.num_rows} sectioned, "
          f"{rejected.num_rows} rejected")
    return 0


def _triplets_catalog(args: argparse.Namespace, parser: TripletParser,
                      calibrator: Calibrator) -> int:
    from cxralign.io.catalog import Catalog
    from cxralign.text.partitions import write_sentences, write_triplets

    catalog = Catalog(args.data)
    sentences = write_sentences(catalog, args.partition, _limits(args))
    triplets, findings = write_triplets(catalog, args.partition, parser, calibrator)
    print(f"backend: {parser.backend_name}")
    print(f"partition {args.partition}: {sentences.num_rows} sentences, "
          f"{triplets.num_rows} triplets, {findings.num_rows} positive report findings "
          f"({sum(findings.column('indexed').to_pylist())} indexed)")
    return 0


def _limits(args: argparse.Namespace) -> TextLimits:
    return validated(TextLimits, {"max_report_chars": args.max_report_chars,
                                  "max_sentence_chars": args.max_sentence_chars})


def _parser(backend: str) -> TripletParser:
    """The triplet parser of ``--backend`` (a usage error when its models are not installed)."""
    from cxralign.text.pipeline import load_parser

    try:
        return load_parser(backend)
    except RuntimeError as error:
        raise UsageError(str(error)) from error


def _calibrator(path: str) -> Calibrator:
    """The ``--calibrator`` model (the shipped one when empty); a usage error naming the file
    when it is missing or no calibrator of this version."""
    from cxralign.text.calibration import load_calibrator

    try:
        return load_calibrator(path)
    except ValueError as error:  # json.JSONDecodeError is one
        raise UsageError(f"--calibrator: {error}") from error


def _rejected_path(out: Path) -> Path:
    return out.with_name(out.stem + ".rejected.parquet")


def _findings_path(out: Path) -> Path:
    return out.with_name(out.stem + ".findings.parquet")


def _section_files(args: argparse.Namespace) -> tuple[pa.Table, pa.Table]:
    """Read INPUT, section it, write and name its rejected reports; (reports, sections)."""
    from cxralign.text.pipeline import sections_table
    from cxralign.text.readers import read_reports

    reports = read_reports(args.input)
    sections, rejected = sections_table(reports, _limits(args))
    write_parquet_atomically(rejected, _rejected_path(args.out))
    print(f"{reports.num_rows} reports: {sections.num_rows} sectioned, {rejected.num_rows} "
          f"rejected -> {_rejected_path(args.out)}")
    for reason, count in sorted(Counter(rejected.column("reason").to_pylist()).items()):
        print(f"  rejected {reason}: {count}")
    for name, reason, detail in zip(*(rejected.column(c).to_pylist() for c in
                                      ("source_path_hash", "reason", "detail")), strict=True):
        print(f"  rejected {name or '(unnamed)'}: {reason} ({detail})")
    return reports, sections


def _sections(args: argparse.Namespace) -> int:
    if _file_or_catalog(args, "reports") == "catalog":
        return _sections_catalog(args)
    _reports, sections = _section_files(args)
    write_parquet_atomically(sections, args.out)
    print(f"sections -> {args.out}")
    return 0


def _triplets(args: argparse.Namespace) -> int:
    from cxralign.text.calibration import report_findings_table
    from cxralign.text.pipeline import sentences_table, triplets_table

    mode = _file_or_catalog(args, "sections")
    parser = _parser(args.backend)
    calibrator = _calibrator(args.calibrator)
    if mode == "catalog":
        return _triplets_catalog(args, parser, calibrator)
    reports, sections = _section_files(args)
    sentences = sentences_table(sections, _limits(args))
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
    findings = report_findings_table(sentences, triplets, calibrator)
    write_parquet_atomically(findings, _findings_path(args.out))
    existence = Counter(triplets.column("existence").to_pylist())
    print(f"backend: {parser.backend_name}")
    print(
        f"{reports.num_rows} reports ({reports.num_rows - sections.num_rows} rejected), "
        f"{sentences.num_rows} sentences, "
        f"{triplets.num_rows} triplets ({existence['present']} present, {existence['absent']} absent, "
        f"{existence['uncertain']} uncertain) -> {args.out}"
    )
    indexed = sum(findings.column("indexed").to_pylist())
    print(f"{findings.num_rows} positive (report, finding) pairs, {indexed} indexed as report "
          f"findings -> {_findings_path(args.out)}")
    return 0


def _find_iu_dir(given: Path | None) -> Path | None:
    if given is not None:
        return given
    repo_root = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), repo_root):
        candidate = (base / DEFAULT_IU_DIR).resolve()
        if candidate.is_dir():
            return candidate
    return None


def _iu_dir(given: Path | None) -> Path:
    """IU_DIR, or the default OpenI report folder; a usage error when there is none."""
    fix = "give IU_DIR, a directory of OpenI XML reports with MeSH terms"
    directory = _find_iu_dir(given)
    if directory is None:
        raise UsageError(f"no OpenI report directory at {DEFAULT_IU_DIR}; {fix}")
    return existing_dir(directory, "IU_DIR", fix)


def _fit_calibrator(args: argparse.Namespace) -> int:
    from cxralign.text.calibration_fit import fit_on_directory

    directory = _iu_dir(args.iu_dir)
    calibrator, summary = fit_on_directory(directory, args.split, args.l2_c, args.folds)
    print(summary, end="")
    with atomic_path(args.out) as tmp:
        tmp.write_text(calibrator.to_json(), encoding="utf-8")
    print(f"-> {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from cxralign.text.evaluation import evaluate_mappings, mappings_to_markdown

    directory = _iu_dir(args.iu_dir)
    calibrator = _calibrator(args.calibrator)
    parser = _parser(args.backend)
    results = evaluate_mappings(directory, parser, calibrator)
    markdown = mappings_to_markdown(results, parser.backend_name)
    print(markdown, end="")
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(markdown, encoding="utf-8")
    return 0


def _input_arguments(command: argparse.ArgumentParser, writes: str) -> None:
    """Report files in and a Parquet file out, or one partition of the catalog."""
    command.add_argument("input", nargs="?", type=Path, help="reports directory or CSV")
    command.add_argument("--out", type=Path, help="output Parquet file (with INPUT); rejected "
                         "reports go to OUT_STEM.rejected.parquet beside it")
    command.add_argument("--data", type=Path,
                         help=f"catalog mode: write {writes} of one partition of the catalog "
                         "under DATA from its previous stage's tables (instead of INPUT/--out)")
    command.add_argument("--partition", default=DEFAULT_PARTITION,
                         help="catalog mode: partition (batch) name")
    limits = TextLimits()
    command.add_argument("--max-report-chars", type=int, default=limits.max_report_chars,
                         help="reject longer reports (report_too_long) before parsing them")
    command.add_argument("--max-sentence-chars", type=int, default=limits.max_sentence_chars,
                         help="cut longer run-on sentences into pieces of at most this length")


def _calibrator_argument(command: argparse.ArgumentParser, role: str) -> None:
    command.add_argument(
        "--calibrator", default=TextSettings().calibrator, metavar="JSON",
        help=f"the calibrated second stage that {role}: a model written by "
        "fit-text-calibrator (default: the shipped one, fitted on the IU dev half)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``triplets``, ``sections``, ``evaluate-text`` and ``fit-text-calibrator`` to the
    ``cxralign`` sub-parsers."""
    inputs = (
        "INPUT is a directory of OpenI XML files, a directory tree of MIMIC-CXR .txt reports, or "
        "a CSV with study_id,text columns."
    )
    trip = commands.add_parser(
        "triplets",
        help="extract <region, finding, existence> triplets from reports",
        description="Split reports into sections and sentences and write one row per triplet "
        "(study_id, sentence_index, sentence, region, finding, existence, evidence, cue); in "
        "file mode also OUT_STEM.findings.parquet, one row per positive (report, finding) with "
        "its evidence kind and whether the calibrated second stage indexes it as a report "
        "finding. " + inputs,
    )
    _input_arguments(trip, "sentences and triplets")
    trip.add_argument(
        "--backend", choices=("auto", "rules", "stanza"), default=TextSettings().backend,
        help="auto: stanza when its mimic/radiology models are installed, else rules (default)",
    )
    _calibrator_argument(trip, "decides which positive findings are report findings")
    trip.set_defaults(handler=_triplets)

    sec = commands.add_parser(
        "sections",
        help="extract report sections (findings, impression, ...)",
        description="Write one row per report with its findings, impression, indication, "
        "comparison, history and technique sections. " + inputs,
    )
    _input_arguments(sec, "sections (and rejected reports)")
    sec.set_defaults(handler=_sections)

    ev = commands.add_parser(
        "evaluate-text",
        help="score the triplet parser against OpenI MeSH terms",
        description="Report-level precision/recall/F1 per finding, the share of MeSH-normal "
        "reports without a positive finding and side/zone agreement, on a dev half, a confirm "
        "half and all reports, under the strict MeSH mapping (only terms that name the finding; "
        f"the one targets use) and the broad one. IU_DIR defaults to {DEFAULT_IU_DIR} from the working directory "
        "or the repository root.",
    )
    ev.add_argument("iu_dir", nargs="?", type=Path, default=None, metavar="IU_DIR",
                    help="directory of OpenI XML reports with MeSH terms")
    ev.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ev.add_argument("--backend", choices=("auto", "rules", "stanza"), default="rules",
                    help="triplet backend (default rules)")
    _calibrator_argument(ev, "decides the report findings scored beside the rules'")
    ev.set_defaults(handler=_evaluate)

    fit = commands.add_parser(
        "fit-text-calibrator",
        help="refit the calibrated second stage on OpenI reports with MeSH terms",
        description="Fit the logistic model that decides which rule-positive findings a MeSH "
        "coder indexes (report-disjoint cross-validation picks its threshold), print its "
        "cross-validated scores and coefficients, and write it as JSON for evaluate-text "
        "--calibrator.",
    )
    fit.add_argument("iu_dir", nargs="?", type=Path, default=None, metavar="IU_DIR",
                     help="directory of OpenI XML reports with MeSH terms")
    fit.add_argument("--out", type=Path, required=True, help="calibrator JSON to write")
    fit.add_argument("--split", choices=("dev", "all"), default="dev",
                     help="fit on the dev half (default; confirm stays unseen) or all reports")
    fit.add_argument("--l2-c", type=float, default=1.0, help="inverse L2 strength (sklearn C)")
    fit.add_argument("--folds", type=int, default=5, help="report-disjoint CV folds")
    fit.set_defaults(handler=_fit_calibrator)
