"""Reports state every drawn lesion, with location words that match its ground-truth region."""

from __future__ import annotations

import re

HEDGES = ("possible", "cannot be excluded", "not excluded", "questionable", "likely")
NEGATIONS = ("no ", "without", "free of", "normal", "not seen", "clear")
SIDE_CUES = {
    "right": ("right",),
    "left": ("left", "retrocardiac"),
    "both": ("bilateral", "both", "bibasilar", "lung bases"),
}
# Words that name each kind of region; written independently of the generator's phrase tables.
REGION_CUES = {
    "upper lung zone": ("upper",),
    "mid lung zone": ("mid",),
    "lower lung zone": ("lower", "base", "basilar", "retrocardiac"),
    "apical zone": ("apex", "apical"),
    "costophrenic angle": ("costophrenic", "pleural", "effusion"),
    "lung": ("lung", "perihilar", "pulmonary"),
    "cardiac silhouette": ("heart", "cardi"),
    "mediastinum": ("mediastin",),
    "trachea": ("trachea",),
    "svc": ("svc", "superior vena cava"),
    "cavoatrial junction": ("cavoatrial",),
    "abdomen": ("stomach", "abdomen"),
}


def kind(region: str) -> str:
    return region.removeprefix("right ").removeprefix("left ")


def test_every_lesion_is_stated_with_its_region(dataset) -> None:
    for lesion in (r for r in dataset.findings if r["existence"] != "absent"):
        matches = [
            s for s in dataset.sentences
            if s["study_key"] == lesion["study_key"] and s["finding"] == lesion["finding"]
            and s["existence"] == lesion["existence"] and lesion["region"] in s["regions"]
        ]
        assert matches, lesion


def test_sentences_appear_verbatim_in_the_report(dataset) -> None:
    for row in dataset.sentences:
        assert row["sentence"] in dataset.report(row["study_key"]), row


def test_location_words_match_the_regions(dataset) -> None:
    for row in dataset.sentences:
        text = row["sentence"].lower()
        regions = [r for r in row["regions"] if r != "unspecified"]
        sides = {r.split(" ")[0] for r in regions if r.startswith(("right", "left"))}
        if row["existence"] != "absent" and sides:
            cues = SIDE_CUES["both"] if len(sides) == 2 else SIDE_CUES[sides.pop()]
            assert any(cue in text for cue in cues), row
            if len(regions) == 1:
                other = "left" if regions[0].startswith("right") else "right"
                assert not re.search(rf"\b{other}\b", text), row
        for region in regions:
            assert any(cue in text for cue in REGION_CUES[kind(region)]), (region, row)


def test_existence_is_worded(dataset) -> None:
    for row in dataset.sentences:
        text = row["sentence"].lower()
        hedged = any(h in text for h in HEDGES)
        if row["existence"] == "uncertain":
            assert hedged, row
        elif row["existence"] == "present":
            assert not hedged and not text.startswith("no "), row
        else:
            assert any(n in text for n in NEGATIONS), row


def test_absent_findings_are_the_negated_ones(dataset) -> None:
    negated = {(s["study_key"], s["finding"], region) for s in dataset.sentences
               if s["existence"] == "absent" for region in s["regions"]}
    absent = {(r["study_key"], r["finding"], r["region"]) for r in dataset.findings
              if r["existence"] == "absent"}
    assert negated == absent and absent


def test_report_formats_vary(dataset) -> None:
    reports = [dataset.report(s["study_key"]) for s in dataset.studies]
    assert any("FINAL REPORT" in r for r in reports)
    assert any("FINAL REPORT" not in r for r in reports)
    assert any("IMPRESSION" in r.upper() and "FINDINGS" not in r.upper() for r in reports)
    assert any("FINDINGS" in r.upper() and "IMPRESSION" not in r.upper() for r in reports)
    assert any("___" in r for r in reports)
    assert {s["section"] for s in dataset.sentences} == {"findings", "impression"}
