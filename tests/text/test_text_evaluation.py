"""MeSH mapping and the evaluation on real IU reports (a subset, to stay fast)."""

from __future__ import annotations

from cxralign.text.calibration import FEATURES, Calibrator
from cxralign.text.commands import DEFAULT_IU_DIR
from cxralign.text.evaluation import (
    CALIBRATED,
    evaluate,
    evaluate_mappings,
    frequent_findings,
    half,
    mappings_to_markdown,
    to_markdown,
)
from cxralign.text.mesh import BROAD, STRICT, read_term
from cxralign.text.pipeline import load_parser


def findings(term: str) -> set[str]:
    return {m.finding for m in read_term(term)[0]}


def test_mesh_terms_map_onto_the_vocabulary():
    assert findings("Opacity/lung/base/left/mild") == {"opacity"}
    assert findings("Opacity/lung/interstitial/reticular/mild") == {"opacity", "interstitial markings"}
    assert findings("Density/lung/lingula/round") == {"opacity", "nodule"}
    assert findings("Cardiomegaly/borderline") == {"cardiomegaly"}
    assert findings("Cardiac Shadow/enlarged/mild") == {"cardiomegaly"}
    assert findings("Lung/hypoinflation") == {"hypoinflation"}
    assert findings("Diaphragm/bilateral/flattened") == {"hyperinflation"}
    assert findings("Thoracic Vertebrae/degenerative") == {"degenerative spine"}
    assert findings("Costophrenic Angle/left/blunted") == {"pleural effusion"}
    assert findings("Markings/bronchovascular") == set()
    assert findings("normal") == set() and not read_term("normal")[1]
    assert read_term("Deformity/ribs/right") == ([], False)  # ignored on purpose
    assert read_term("Xanthoma/lung") == ([], True)  # unknown: reported as unmapped
    item = read_term("Pulmonary Atelectasis/lower lobe/bilateral")[0][0]
    assert item.sides == {"left", "right"} and item.zones == {"lower"}


def test_halves_are_stable_and_balanced():
    ids = [str(i) for i in range(1, 2001)]
    dev = [i for i in ids if half(i) == "dev"]
    assert 900 < len(dev) < 1100
    assert dev == [i for i in ids if half(i) == "dev"]


def test_rule_backend_on_real_reports_meets_a_floor(iu_subset):
    results = evaluate(iu_subset(400), load_parser("rules"))
    scores = results["all"]
    assert scores.reports == 400
    common = frequent_findings(scores, min_support=10)
    assert scores.micro(common)[2] >= 0.90
    assert scores.macro(common)[2] >= 0.80
    assert scores.normal_share >= 0.95
    assert scores.side_agreement >= 0.9
    markdown = to_markdown(results, "rules")
    assert "| dev |" in markdown and "| confirm |" in markdown
    # each averaged finding's P / R per half, with the counts they come from
    finding = frequent_findings(scores)[0]
    dev, confirm = results["dev"], results["confirm"]
    row = next(line for line in markdown.splitlines() if line.startswith(f"| {finding} | ")
               and line.count("(") == 2)
    assert f"({dev.tp[finding]}-{dev.fp[finding]}-{dev.fn[finding]})" in row
    assert f"({confirm.tp[finding]}-{confirm.fp[finding]}-{confirm.fn[finding]})" in row


def test_default_report_directory_is_beside_the_repository(shared_data):
    assert DEFAULT_IU_DIR.parts[-3:] == ("shared", "data", "iu_xray_reports")
    assert (shared_data / "iu_xray_reports").is_dir()


def test_strict_mapping_counts_only_terms_that_name_the_finding():
    def strict(term: str) -> set[str]:
        return {m.finding for m in read_term(term, STRICT)[0]}

    assert strict("Density/lung/lingula/round") == {"opacity"}  # broad: also a nodule
    assert strict("Nodule/lung/upper lobe/left") == {"nodule"}
    assert strict("Costophrenic Angle/left/blunted") == set()
    assert strict("Pleural Effusion/left/small") == {"pleural effusion"}
    assert strict("Opacity/lung/interstitial/reticular/mild") == {"opacity"}
    assert strict("Markings/lung/interstitial/prominent") == {"interstitial markings"}
    assert strict("Heart Failure") == set() and strict("Pulmonary Congestion") == {"edema"}
    assert strict("Volume Loss/lung/base/left") == set()
    assert strict("Pulmonary Fibrosis/base") == set() and strict("Cicatrix/lung") == {"scarring"}
    # findings the strict table does not list read the same in both mappings
    assert strict("Atherosclerosis/aorta") == findings("Atherosclerosis/aorta") == {"calcification"}


def test_evaluation_reports_both_mappings(iu_subset):
    results = evaluate_mappings(iu_subset(150), load_parser("rules"))
    broad, strict = results[BROAD]["all"], results[STRICT]["all"]
    # the same predictions: strict removes expected findings, so it has more FP and no more TP
    assert sum(strict.tp.values()) <= sum(broad.tp.values())
    assert sum(strict.fp.values()) > sum(broad.fp.values())
    markdown = mappings_to_markdown(results, "rules")
    assert markdown.index("`strict`") < markdown.index("`broad`")


def test_evaluation_scores_the_calibrated_findings_beside_the_rules(iu_subset):
    # a hand-set model that indexes only findings with a present mention
    weights = tuple(6.0 if name == "present" else 0.0 for name in FEATURES)
    only_present = Calibrator(FEATURES, weights, -3.0, 0.5, {}, 0, {})  # no support guard
    results = evaluate_mappings(iu_subset(150), load_parser("rules"), only_present)
    plain, calibrated = results[STRICT]["all"], results[STRICT + CALIBRATED]["all"]
    # the calibrator only drops rule-positives: never a new TP or FP
    assert sum(calibrated.tp.values()) <= sum(plain.tp.values())
    assert sum(calibrated.fp.values()) < sum(plain.fp.values())  # hedged-only FPs are gone
    markdown = mappings_to_markdown(results, "rules")
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    # the report findings (targets: strict) first, then the rules alone
    assert headings[0].startswith("### Strict MeSH mapping (targets), report findings")
    assert [h.split(",")[0] for h in headings] == [
        "### Strict MeSH mapping (targets)", "### Broad MeSH mapping",
        "### Strict MeSH mapping", "### Broad MeSH mapping"]
    assert all("rules alone" in h for h in headings[2:])
