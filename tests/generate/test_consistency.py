"""Generated sentences that contradict each other: known answers on constructed reports."""

import pytest

from cxralign.generate.assemble import assemble_report
from cxralign.generate.consistency import consistent_sentences, lies_inside
from cxralign.text.pipeline import load_parser


@pytest.fixture(scope="module")
def parser():
    return load_parser("rules")


@pytest.mark.parametrize(("region", "other", "inside"), [
    ("right lower lung zone", "right lung", True),
    ("left costophrenic angle", "left lung", True),
    ("cardiac silhouette", "unspecified", True),
    ("left lung", "left lung", True),
    ("right lung", "right lower lung zone", False),
    ("unspecified", "cardiac silhouette", False),
    ("right lung", "left lung", False),
    ("right costophrenic angle", "left costophrenic angle", False),
    ("right upper lung zone", "right lower lung zone", False),
])
def test_a_region_lies_inside_the_regions_that_cover_most_of_it(region, other, inside):
    assert lies_inside(region, other) is inside


@pytest.mark.parametrize(("sentences", "kept"), [
    # a region's finding beats the whole chest's negation
    (["Small left pleural effusion.", "No pleural effusion or pneumothorax."],
     ["Small left pleural effusion."]),
    (["No pleural effusion or pneumothorax.", "Small left pleural effusion."],
     ["Small left pleural effusion."]),
    # a zone's opacity beats its lung's "clear"
    (["Right lower lung opacity.", "The lungs are clear."], ["Right lower lung opacity."]),
    # the same region: the positive statement stays
    (["Bilateral pleural effusions.", "No left pleural effusion."],
     ["Bilateral pleural effusions."]),
    (["Heart size is normal.", "The heart is enlarged."], ["The heart is enlarged."]),
    # hedged counts as positive
    (["Possible right lower lobe pneumonia.", "No pneumonia."],
     ["Possible right lower lobe pneumonia."]),
])
def test_a_negation_of_a_stated_finding_is_dropped(parser, sentences, kept):
    assert consistent_sentences(sentences, parser) == kept


@pytest.mark.parametrize("sentences", [
    ["Small left pleural effusion.", "No right pleural effusion."],
    ["Left upper lung opacity.", "No right lower lung opacity."],
    ["The heart is enlarged.", "No pleural effusion or pneumothorax."],
    ["No pneumothorax.", "No pleural effusion."],
    # a negation of a narrower region does not deny a finding in the wider one
    ["Right lung opacity.", "No right lower lung opacity."],
])
def test_statements_that_agree_or_concern_other_places_are_all_kept(parser, sentences):
    assert consistent_sentences(sentences, parser) == sentences


def test_an_assembled_report_never_states_and_denies_one_finding(parser):
    report = assemble_report(
        ["Small left pleural effusion.", "No pleural effusion or pneumothorax.",
         "Heart size is normal."], parser, "No acute cardiopulmonary process.")
    assert report == ("Small left pleural effusion. Heart size is normal. "
                      "Small left pleural effusion.")
