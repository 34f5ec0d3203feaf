"""Text-stage throughput on one core: cxralign sections + triplets vs medspacy's ConText.

Both read the 1,978 real OpenI reports of ``../shared/data/iu_xray_reports``:

- cxralign: ``sections_table`` (XML parsing included) -> ``sentences_table`` -> ``triplets_table``
  with the rule backend -> ``report_findings_table`` with the shipped calibrator, i.e. everything
  from the raw XML to triplets and report findings, as the text stage writes them;
- medspacy 1.3.1: PyRuSH sentences + TargetMatcher with the *same* finding phrases as the rule
  lexicon (:func:`cxralign.text.lexicon.finding_phrases`) + ConText with its default rules, over
  the findings+impression text cxralign extracted (the peer is spared the XML parsing).

medspacy pins spacy<3.8, whose thinc is built for numpy<2, so it cannot live in the project venv
(numpy 2). It gets its own venv, ``benchmarks/.work/venv-medspacy`` (git-ignored), created here
when missing from the pinned ``benchmarks/peers/medspacy-requirements.txt``, and runs as
``benchmarks/peers/medspacy_context.py`` in a subprocess. cxralign runs the same way (this script
with ``--worker``), so both are timed alike, in the same run, alternating:

- whole process: from spawning the interpreter to the end of the first pass over all reports
  (start-up, imports, building the pipeline, reading the input, one pass);
- steady state: the best of ``--repeats`` further passes inside that process.

Every subprocess is pinned to one CPU (``--cpu``, default the lowest this process may use); each
peer runs ``--runs`` times and the best of each figure counts. The peer's findings are also
scored against MeSH like ``cxralign evaluate-text`` (report level, findings only, no location).
Run: ``python benchmarks/text.py [--reports DIR] [--runs 3] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from cxralign.text.calibration import SHIPPED, Calibrator, report_findings_table
from cxralign.text.evaluation import (
    Report,
    Scores,
    evaluate,
    frequent_findings,
    load_reports,
    split_scores,
)
from cxralign.text.lexicon import finding_phrases
from cxralign.text.mesh import STRICT
from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table
from cxralign.vocabulary import UNSPECIFIED_REGION

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORTS = ROOT.parent / "shared" / "data" / "iu_xray_reports"
WORK = ROOT / "benchmarks" / ".work"
PEER_VENV = WORK / "venv-medspacy"
PEER_SCRIPT = ROOT / "benchmarks" / "peers" / "medspacy_context.py"
PEER_REQUIREMENTS = ROOT / "benchmarks" / "peers" / "medspacy-requirements.txt"


def reports_table(reports: list[Report]) -> pa.Table:
    return pa.table(
        {
            "study_id": [r.study_id for r in reports],
            "report_text": [r.xml for r in reports],
            "report_format": ["openi_xml"] * len(reports),
        }
    )


def worker(directory: Path, repeats: int) -> None:
    """cxralign's side, run pinned in a subprocess: the same JSON protocol as the peer script."""
    table = reports_table(load_reports(directory))
    parser = load_parser("rules")
    calibrator = Calibrator.load(SHIPPED)

    def run() -> pa.Table:
        sections, _rejected = sections_table(table)
        sentences = sentences_table(sections)
        triplets = triplets_table(sentences, parser)
        report_findings_table(sentences, triplets, calibrator)
        return triplets

    triplets = run()
    first_pass_end = time.time()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    json.dump({"first_pass_end": first_pass_end, "steady_s": min(times) if times else None,
               "triplets": triplets.num_rows}, sys.stdout)


def isolated_env() -> dict[str, str]:
    """This environment without PYTHONPATH, so the peer venv never sees the project's packages."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def peer_python() -> Path:
    """The peer venv's interpreter, creating the venv from the pinned requirements if needed."""
    python = PEER_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import medspacy"], capture_output=True,
                                          env=isolated_env()).returncode == 0:
        return python
    print(f"creating {PEER_VENV.relative_to(ROOT)} from {PEER_REQUIREMENTS.relative_to(ROOT)}",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", PEER_VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", PEER_REQUIREMENTS],
                   check=True, env=isolated_env())
    return python


def peer_input(reports: list[Report]) -> Path:
    """The JSON the peer reads: our finding phrases and each report's findings+impression."""
    sections, _rejected = sections_table(reports_table(reports))
    columns = sections.select(["study_id", "findings", "impression"]).to_pydict()
    texts = [
        {"study_id": study_id, "text": "\n\n".join(part for part in (findings, impression) if part)}
        for study_id, findings, impression in zip(
            columns["study_id"], columns["findings"], columns["impression"], strict=True
        )
    ]
    path = WORK / "medspacy-input.json"
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"targets": finding_phrases(), "reports": texts}), encoding="utf-8")
    return path


def run_pinned(command: list[str | Path], env: dict[str, str], cpu: int) -> tuple[float, dict[str, Any]]:
    """Whole-process seconds (spawn to end of the first pass) and the worker's JSON result."""
    start = time.time()
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=ROOT, env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    result = json.loads(done.stdout)
    return result["first_pass_end"] - start, result


def peer_scores(reports: list[Report], findings: dict[str, list[str]]) -> dict[str, Scores]:
    """The peer's report-level findings scored against MeSH (strict mapping) on each half (no
    locations)."""
    predicted = {
        study_id: {finding: {UNSPECIFIED_REGION} for finding in names}
        for study_id, names in findings.items()
    }
    return split_scores(reports, predicted, STRICT)


def accuracy_lines(name: str, results: dict[str, Scores]) -> list[str]:
    frequent = frequent_findings(results["all"])
    return [
        f"| {name} | {split} | {s.micro(frequent)[2]:.3f} | {s.macro(frequent)[2]:.3f} | "
        f"{s.normal_share:.3f} ({s.normal_clean}/{s.normal_reports}) |"
        for split, s in results.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    parser.add_argument("--runs", type=int, default=3, help="processes per peer (best counts)")
    parser.add_argument("--repeats", type=int, default=5, help="steady-state passes per process")
    parser.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.reports, args.repeats)
        return

    reports = load_reports(args.reports)
    commands: dict[str, tuple[list[str | Path], dict[str, str]]] = {
        "cxralign rules": (
            [sys.executable, Path(__file__).resolve(), "--worker", "--reports",
             args.reports.resolve(), "--repeats", str(args.repeats)],
            {**os.environ, "PYTHONPATH": str(ROOT)},
        ),
        "medspacy ConText": (
            [peer_python(), PEER_SCRIPT, peer_input(reports), "--repeats", str(args.repeats)],
            isolated_env(),
        ),
    }
    whole: dict[str, float] = {}
    steady: dict[str, float] = {}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(args.runs):
        for name, (command, env) in commands.items():
            seconds, result = run_pinned(command, env, args.cpu)
            whole[name] = min(whole.get(name, seconds), seconds)
            steady[name] = min(steady.get(name, result["steady_s"]), result["steady_s"])
            last[name] = result

    count = len(reports)
    print(f"{count} reports, CPU {args.cpu}, best of {args.runs} processes x {args.repeats} passes")
    print("| peer | whole process s | reports/s | steady-state s | reports/s |")
    print("|---|---|---|---|---|")
    for name in commands:
        print(f"| {name} | {whole[name]:.2f} | {count / whole[name]:,.0f} | "
              f"{steady[name]:.3f} | {count / steady[name]:,.0f} |")
    ours, peer = commands
    print(f"cxralign / medspacy: whole process {whole[peer] / whole[ours]:.1f}x, "
          f"steady state {steady[peer] / steady[ours]:.1f}x "
          f"({last[ours]['triplets']} triplets; {last[peer]['entities']} medspacy entities)")
    print()
    print("| parser | split | micro F1 | macro F1 | normal reports clean |")
    print("|---|---|---|---|---|")
    lines = accuracy_lines(ours, evaluate(args.reports, load_parser("rules"), STRICT))
    lines += accuracy_lines(peer, peer_scores(reports, last[peer]["findings"]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
