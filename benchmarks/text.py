"""Text-stage throughput: cxralign sections + triplets vs medspacy's ConText, on one core.

Both peers read the 1,978 real OpenI reports of ``../shared/data/iu_xray_reports``:

- cxralign: ``sections_table`` (XML parsing included) -> ``sentences_table`` -> ``triplets_table``
  with the rule backend, i.e. everything from the raw XML to triplets;
- medspacy: PyRuSH sentences + TargetMatcher with the *same* finding phrases as the rule lexicon
  + ConText (negation/uncertainty), over the findings+impression text cxralign extracted (so the
  peer is spared the XML parsing).

Each is run ``--repeats`` times in this process after one warm-up; the best time counts. The
process is pinned to one CPU where the OS allows it. medspacy is optional: when it is not
importable the script says why and reports cxralign alone. Run:
``python benchmarks/text.py [--reports DIR] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from cxralign.text.evaluation import load_reports
from cxralign.text.lexicon import FINDING, phrase_table
from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table

DEFAULT_REPORTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "iu_xray_reports"


def best_time(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: regex compilation, imports, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def medspacy_pipeline():
    """A medspacy pipeline with our finding phrases as targets; ImportError when unavailable."""
    import medspacy
    from medspacy.ner import TargetRule

    nlp = medspacy.load(enable=["medspacy_pyrush", "medspacy_target_matcher", "medspacy_context"])
    rules = []
    for phrase, entry in phrase_table().items():
        if entry.kind != FINDING:
            continue
        words = phrase.rstrip("*").split()
        pattern = [{"LOWER": word} for word in words]
        if phrase.endswith("*"):
            pattern[-1] = {"LOWER": {"REGEX": f"^{words[-1]}"}}
        rules.append(TargetRule(phrase, entry.value[0], pattern=pattern))
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    reports = load_reports(args.reports)
    table = pa.table(
        {
            "study_id": [r.study_id for r in reports],
            "report_text": [r.xml for r in reports],
            "report_format": ["openi_xml"] * len(reports),
        }
    )
    rules = load_parser("rules")

    def cxralign_run() -> pa.Table:
        sections, _ = sections_table(table)
        return triplets_table(sentences_table(sections), rules)

    seconds = best_time(cxralign_run, args.repeats)
    ours = len(reports) / seconds
    print(f"cxralign rules: {len(reports)} reports in {seconds:.3f} s = {ours:,.0f} reports/s "
          f"({cxralign_run().num_rows} triplets)")

    try:
        nlp = medspacy_pipeline()
    except ImportError as error:
        print(f"medspacy: skipped, not importable ({error.__class__.__name__}: {error})")
        return
    sections, _ = sections_table(table)
    texts = [
        " ".join(part for part in (f, i) if part)
        for f, i in zip(sections.column("findings").to_pylist(),
                        sections.column("impression").to_pylist(), strict=True)
    ]
    peer_seconds = best_time(lambda: list(nlp.pipe(texts)), args.repeats)
    peer = len(texts) / peer_seconds
    entities = sum(len(doc.ents) for doc in nlp.pipe(texts))
    print(f"medspacy ConText: {len(texts)} reports in {peer_seconds:.3f} s = {peer:,.0f} reports/s "
          f"({entities} target entities)")
    print(f"ratio cxralign / medspacy: {ours / peer:.1f}x")


if __name__ == "__main__":
    main()
