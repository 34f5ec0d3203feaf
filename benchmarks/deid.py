"""PHI recall and medical text kept by the report scrubber, on real IU reports with injected PHI.

The 1,978 OpenI reports of ``../shared/data/iu_xray_reports`` were de-identified by their
publisher, so they carry no real PHI; that makes them the clean half of a test set. Each report
gets ``--per-report`` sentences with PHI, drawn from templates (patient names and IDs that are
also in the study's DICOM header; clinicians, dates in ten forms, times, phones, IDs, emails and
addresses that are not), inserted at random sentence boundaries, with a fixed seed. Two of the
six clinician forms are built to be out of the patterns' reach (a bare "Given Family reviewed
the images.", and a lower-case "per dr family"), so NAME recall shows that limit.

For each report the script also builds the *ideal* output: the injected text with every PHI
value cut out. Then, after :func:`cxralign.io.phi_text.scrub_report`:

- an injected PHI item counts as found when none of its tokens is left over in the output
  beyond what the ideal output holds (so "Connor" surviving "O'Connor" is a miss);
- medical vocabulary kept is the share of the ideal output's lexicon words (every word of 4+
  letters in :func:`cxralign.text.lexicon.phrase_table`) that the output still has; all words
  kept is the same over every word;
- speed is reports per second of ``scrub_report`` alone (best of ``--repeats`` passes, one core).

Run: ``python benchmarks/deid.py [--reports DIR] [--per-report 3] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydicom.dataset import Dataset

from cxralign.io.deid import identifying_values
from cxralign.io.phi_text import ADDRESS, DATE, EMAIL, ID, NAME, PHONE, TIME, scrub_report
from cxralign.io.rejections import Rejection
from cxralign.io.reports import read_openi_report
from cxralign.text.lexicon import phrase_table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORTS = ROOT.parent / "shared" / "data" / "iu_xray_reports"
OFFSET = timedelta(days=-123)

GIVEN = ("Mark", "Jane", "John", "Mary", "Wei", "Ana", "Li", "Jose", "Amy", "Ian", "Grace", "Tom")
FAMILY = ("Lee", "Doe", "Smith", "Nguyen", "O'Connor", "Garcia", "Ng", "Johnson", "McDonald",
          "Brown", "Kowalski", "Patel", "Smith-Jones", "Cho")
STREETS = ("Maple", "West Washington", "Oak Ridge", "North Meridian", "Elm")
SUFFIXES = ("Street", "St.", "Avenue", "Road", "Drive", "Blvd")
DATE_FORMATS = ("%m/%d/%Y", "{m}/{d}/%y", "%Y-%m-%d", "%B {d}, %Y", "{d} %b %Y", "%b. {d}, %Y",
                "%Y%m%d", "%B %Y", "%b {d}", "{m}/{d}")
TIMES = ("10:30", "10:30 AM", "3 pm", "1430 hours", "9:05 p.m.", "23:15")
HEADER_NAME_TEMPLATES = ("Patient {given} {family} was seen today.", "{family}, {given} presents "
                         "for follow-up.", "Spoke with {given} about the results.",
                         "Mr. {family} agrees.")


@dataclass
class Injected:
    """One report with PHI: its text, the ideal output, the header values and the PHI items."""

    text: str
    ideal: str
    header: set[str]
    items: list[tuple[str, str]]


class Writer:
    """Builds a sentence from pieces, some of them PHI, keeping the ideal version beside it."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.ideal: list[str] = []
        self.items: list[tuple[str, str]] = []

    def plain(self, piece: str) -> Writer:
        self.text.append(piece)
        self.ideal.append(piece)
        return self

    def phi(self, kind: str, value: str) -> Writer:
        self.text.append(value)
        self.ideal.append(" ")
        self.items.append((kind, value))
        return self


def _date_text(rng: random.Random) -> str:
    day = date(2005, 1, 1) + timedelta(days=rng.randrange(5000))
    template = rng.choice(DATE_FORMATS).format(m=day.month, d=day.day)
    return day.strftime(template)


def _phone(rng: random.Random) -> str:
    area, line = rng.randrange(200, 999), rng.randrange(10000)
    return rng.choice((f"({area}) 555-{line:04d}", f"{area}-555-{line:04d}",
                       f"{area}.555.{line:04d}", f"555-{line:04d}", f"+1 {area} 555 {line:04d}"))


def _clinician(w: Writer, rng: random.Random) -> None:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    form = rng.randrange(6)
    if form == 0:
        w.plain("Findings discussed with Dr. ").phi(NAME, family).plain(" at ")
        w.phi(TIME, rng.choice(TIMES)).plain(".")
    elif form == 1:
        w.plain("Results called to ").phi(NAME, given).plain(" ").phi(NAME, family).plain(", RN.")
    elif form == 2:
        w.plain("Dictated by: ").phi(NAME, family).plain(", ").phi(NAME, given).plain(".")
    elif form == 3:
        w.plain("Ms. ").phi(NAME, family).plain(" was notified by phone.")
    elif form == 4:  # no cue at all: beyond patterns (a named-entity model's job)
        w.phi(NAME, given).plain(" ").phi(NAME, family).plain(" reviewed the images.")
    else:  # a cue, but the name in lower case
        w.plain("As per dr ").phi(NAME, family.lower()).plain(".")


def _dated(w: Writer, rng: random.Random) -> None:
    template = rng.choice(("Comparison: {}.", "Prior study dated {} reviewed.",
                           "Compared to the exam of {}."))
    before, after = template.split("{}")
    w.plain(before).phi(DATE, _date_text(rng)).plain(after)


def _contact(w: Writer, rng: random.Random) -> None:
    kind = rng.choice((PHONE, PHONE, EMAIL, ADDRESS, TIME))
    if kind == PHONE:
        w.plain("Callback number ").phi(PHONE, _phone(rng)).plain(".")
    elif kind == EMAIL:
        address = f"{rng.choice(GIVEN)}.{rng.choice(FAMILY)}@iuhealth.org".lower().replace("'", "")
        w.plain("Send results to ").phi(EMAIL, address).plain(".")
    elif kind == ADDRESS:
        street = (f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}, "
                  f"Indianapolis, IN 462{rng.randrange(100):02d}")
        w.plain("Home address: ").phi(ADDRESS, rng.choice((street, f"PO Box {rng.randrange(999)}")))
        w.plain(".")
    else:
        w.plain("Images obtained at ").phi(TIME, rng.choice(TIMES)).plain(".")


def _identifier(w: Writer, rng: random.Random) -> None:
    number = str(rng.randrange(10**6, 10**8))
    label, value = rng.choice((("MRN: ", number), ("Accession number ", f"A{number}"),
                               ("SSN ", f"{number[:3]}-{number[3:5]}-{rng.randrange(10**4):04d}"),
                               ("Outside study ", number)))
    w.plain(label).phi(ID, value).plain(" on file.")


GENERATORS: tuple[Callable[[Writer, random.Random], None], ...] = (
    _clinician, _dated, _dated, _contact, _identifier,
)


def inject(report: str, rng: random.Random, per_report: int) -> Injected:
    """``report`` with a header-named patient sentence (every other report) and ``per_report``
    other PHI sentences at random sentence boundaries."""
    given, family, mrn = rng.choice(GIVEN), rng.choice(FAMILY), str(rng.randrange(10**6, 10**8))
    header = Dataset()
    header.PatientName = f"{family}^{given}".upper()
    header.PatientID = mrn
    writers = [Writer() for _ in range(per_report)]
    for writer in writers:
        rng.choice(GENERATORS)(writer, rng)
    if rng.random() < 0.5:
        template = rng.choice(HEADER_NAME_TEMPLATES)
        writer = Writer()
        for piece in re.split(r"(\{given\}|\{family\})", template):
            name = {"{given}": given, "{family}": family}.get(piece)
            writer.phi(NAME, name) if name else writer.plain(piece)
        writers.append(writer.plain(" MRN ").phi(ID, mrn).plain("."))
    sentences = re.split(r"(?<=[.!?])\s+", report)
    text, ideal = list(sentences), list(sentences)
    for writer in writers:
        at = rng.randrange(len(text) + 1)
        text.insert(at, "".join(writer.text))
        ideal.insert(at, "".join(writer.ideal))
    return Injected(" ".join(text), " ".join(ideal), identifying_values(header),
                    [item for writer in writers for item in writer.items])


def _tokens(text: str) -> Counter[str]:
    text = re.sub(r"\[[A-Z]+\]|\b\d{4}-\d{2}-\d{2}\b", " ", text)
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


def evaluate(cases: list[Injected], scrubbed: list[str], vocabulary: set[str]) -> dict[str, object]:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    kept = {"medical": [0, 0], "all": [0, 0]}
    for case, output in zip(cases, scrubbed, strict=True):
        out, ideal = _tokens(output), _tokens(case.ideal)
        excess = out - ideal
        for kind, value in case.items:
            total[kind] += 1
            found[kind] += not any(excess[t] for t in _tokens(value))
        for word, count in ideal.items():
            survived = min(count, out[word])
            kept["all"][0] += survived
            kept["all"][1] += count
            if word in vocabulary:
                kept["medical"][0] += survived
                kept["medical"][1] += count
    recall = {kind: round(found[kind] / total[kind], 4) for kind in sorted(total)}
    recall["all"] = round(sum(found.values()) / sum(total.values()), 4)
    return {"phi_items": dict(sorted(total.items())), "recall": recall,
            "medical_words_kept": round(kept["medical"][0] / kept["medical"][1], 5),
            "medical_words": kept["medical"][1],
            "all_words_kept": round(kept["all"][0] / kept["all"][1], 5)}


def load_texts(directory: Path) -> list[str]:
    texts = []
    for path in sorted(directory.glob("*.xml")):
        try:
            texts.append(read_openi_report(path).text)
        except Rejection:  # a few reports hold no text
            continue
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    parser.add_argument("--per-report", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = load_texts(args.reports)
    rng = random.Random(args.seed)
    cases = [inject(text, rng, args.per_report) for text in texts]
    vocabulary = {w for phrase in phrase_table() for w in phrase.split() if w.isalpha()
                  and len(w) >= 4}
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        scrubbed = [scrub_report(c.text, c.header, OFFSET).text for c in cases]
        seconds.append(time.perf_counter() - started)
    clean_changed = sum(scrub_report(text).text != text for text in texts)
    result = {
        "reports": len(cases), **evaluate(cases, scrubbed, vocabulary),
        "clean_reports_changed": clean_changed,
        "reports_per_second": round(len(cases) / min(seconds), 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
