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
    "hilar structures": ("perihilar", "hilar"),
    "cardiac silhouette": ("heart", "cardi"),
    "mediastinum": ("mediastin",),
    "trachea": ("trachea",),
    "svc": ("svc", "superior vena cava"),
    "cavoatrial junction": ("cavoatrial",),
    "abdomen": ("stomach", "abdomen"),
}


# Location words that state another region of the lesion's side than the one it is drawn in
# (edema drawn in a lung and called "perihilar" is stated in the hilar structures).
WORDED_REGIONS = {"perihilar": "hilar structures"}


def kind(region: str) -> str:
    return region.removeprefix("right ").removeprefix("left ")


def stated_region(lesion_region: str, sentence: str) -> str:
    side = lesion_region.split(" ")[0]
    worded = [region for word, region in WORDED_REGIONS.items() if word in sentence.lower()]
    return f"{side} {worded[0]}" if worded else lesion_region


def test_every_lesion_is_stated_with_its_region(dataset) -> None:
    for lesion in (r for r in dataset.findings if r["existence"] != "absent"):
        matches = [
            s for s in dataset.sentences
            if s["study_key"] == lesion["study_key"] and s["finding"] == lesion["finding"]
            and s["existence"] == lesion["existence"]
            and stated_region(lesion["region"], s["sentence"]) in s["regions"]
        ]
        assert matches, lesion


def test_perihilar_sentences_state_the_hilar_structures(dataset) -> None:
    perihilar = [s for s in dataset.sentences if "perihilar" in s["sentence"].lower()]
    assert perihilar
    assert all(kind(region) == "hilar structures" for s in perihilar for region in s["regions"])


def test_lungs_free_of_a_finding_are_not_said_clear(dataset) -> None:
    free_of = [s for s in dataset.sentences if "lungs are free of" in s["sentence"]]
    clear = [s for s in dataset.sentences if "lungs are clear" in s["sentence"].lower()]
    assert free_of and clear
    assert all(s["finding"] != "opacity" for s in free_of)
    assert all(s["regions"] == ["right lung", "left lung"] for s in free_of + clear)


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
