"""The rule backend on real sentences from the IU development half, one cue family per test."""

from __future__ import annotations

import pytest

from cxralign.text.lexicon import FINDING_SPECS, finding_phrases, phrase_table
from cxralign.text.matcher import Entry, PhraseMatcher
from cxralign.text.triplets import RuleParser
from cxralign.vocabulary import EXISTENCE, FINDINGS, REGIONS, UNSPECIFIED_REGION


@pytest.fixture(scope="module")
def parser() -> RuleParser:
    return RuleParser()


def facts(parser: RuleParser, sentence: str) -> set[tuple[str, str, str]]:
    return {(t.region, t.finding, t.existence) for t in parser.parse(sentence)}


def existence(parser: RuleParser, sentence: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for triplet in parser.parse(sentence):
        out.setdefault(triplet.finding, set()).add(triplet.existence)
    return out


def test_negation_cues(parser):
    assert existence(parser, "There is no evidence of pneumothorax.") == {"pneumothorax": {"absent"}}
    assert existence(parser, "The lungs are clear without infiltrate.")["opacity"] == {"absent"}
    assert existence(parser, "The lungs are free of any focal infiltrates.")["opacity"] == {"absent"}
    assert existence(parser, "Negative for focal pulmonary consolidation.") == {"consolidation": {"absent"}}
    assert existence(parser, "No pleural effusion is seen.") == {"pleural effusion": {"absent"}}
    assert existence(parser, "There has been resolution of the left-sided airspace disease.") == {
        "opacity": {"absent"}
    }


def test_one_cue_negates_a_list(parser):
    got = facts(parser, "No focal consolidation, visible pneumothorax or large pleural effusions.")
    assert got == {
        (UNSPECIFIED_REGION, "consolidation", "absent"),
        (UNSPECIFIED_REGION, "pneumothorax", "absent"),
        (UNSPECIFIED_REGION, "pleural effusion", "absent"),
    }


def test_negation_scope_ends_at_but_and_at_a_new_cue(parser):
    got = existence(parser, "No pneumothorax but small left pleural effusion.")
    assert got == {"pneumothorax": {"absent"}, "pleural effusion": {"present"}}
    got = existence(parser, "No pleural effusion, possible pneumonia.")
    assert got == {"pleural effusion": {"absent"}, "pneumonia": {"uncertain"}}


def test_uncertainty_cues(parser):
    got = existence(parser, "Bibasilar airspace disease may represent infection or mild edema.")
    assert got == {"opacity": {"present"}, "edema": {"uncertain"}}
    got = existence(parser, "Question small right pleural effusion versus pleural thickening.")
    assert got == {"pleural effusion": {"uncertain"}, "pleural thickening": {"uncertain"}}
    got = existence(parser, "Left basilar atelectasis cannot be excluded.")
    assert got == {"atelectasis": {"uncertain"}}


def test_uncertainty_inside_a_negation_is_negated(parser):
    got = existence(parser, "There is no focal air space opacity to suggest a pneumonia.")
    assert got == {"opacity": {"absent"}, "pneumonia": {"absent"}}
    got = existence(parser, "No focal consolidation, suspicious pulmonary opacity, pneumothorax or definite pleural effusion.")
    assert set(got) == {"consolidation", "opacity", "pneumothorax", "pleural effusion"}
    assert all(values == {"absent"} for values in got.values())


def test_the_target_of_a_test_or_recommendation_yields_no_triplet(parser):
    # hypothetical: what a test would look for says nothing about this image
    assert parser.parse("If clinically indicated, further evaluation with CT of the thorax can be "
                        "performed to identify a small nodule.") == []
    assert parser.parse("Limited exam, for evaluation of fractures.") == []
    assert parser.parse("The XXXX of lateral view and limits evaluation for an effusion or the "
                        "patellofemoral joint space.") == []
    # the rest of the sentence is still read, and hedges stay uncertain (the nodular opacity it
    # explains as a granuloma is that granuloma's shadow, no nodule of its own)
    got = existence(parser, "Left perihilar nodular opacity redemonstrated, appears dense, may be "
                            "granulomatous, if desired one may consider CT for further characterization.")
    assert got == {"opacity": {"present"}, "calcified granuloma": {"uncertain"}}
    # "if any" hedges (constructed: no dev sentence has it) rather than makes hypothetical
    assert existence(parser, "Minimal if any pleural effusion.") == {"pleural effusion": {"uncertain"}}


def test_pseudo_negations_do_not_negate(parser):
    assert existence(parser, "No change in the left pleural effusion.") == {"pleural effusion": {"present"}}
    got = existence(parser, "Persistent bilateral lower lobe airspace disease, not significantly changed.")
    assert got == {"opacity": {"present"}}


def test_normal_heart_size_is_cardiomegaly_absent(parser):
    for sentence in ("Normal heart size.", "The heart size is normal.", "Heart size is within normal limits.",
                     "The heart is normal in size.", "Heart is not enlarged."):
        assert facts(parser, sentence) == {("cardiac silhouette", "cardiomegaly", "absent")}, sentence
    assert facts(parser, "The cardiac silhouette is enlarged.") == {("cardiac silhouette", "cardiomegaly", "present")}


def test_lungs_are_clear_is_opacity_absent_in_both_lungs(parser):
    both = {("right lung", "opacity", "absent"), ("left lung", "opacity", "absent")}
    assert facts(parser, "Lungs are clear bilaterally.") == both
    assert facts(parser, "The lungs are clear.") == both
    assert facts(parser, "Clear lungs.") == both


def test_the_lungs_as_subject_locate_a_negated_finding(parser):
    lungs = ("right lung", "left lung")
    assert facts(parser, "The lungs are free of consolidation.") == {
        (region, "consolidation", "absent") for region in lungs
    }  # free of one finding is not "clear": no opacity statement
    got = facts(parser, "The lungs are clear without focal consolidation.")
    assert {(r, "consolidation", "absent") for r in lungs} | {(r, "opacity", "absent") for r in lungs} <= got


def test_perihilar_is_the_hilar_structures(parser):
    assert facts(parser, "Mild bilateral perihilar edema.") == {
        ("right hilar structures", "edema", "present"), ("left hilar structures", "edema", "present"),
    }


@pytest.mark.parametrize(
    ("sentence", "region"),
    [
        ("Right IJ central line terminates at the cavoatrial junction.", "cavoatrial junction"),
        ("Right IJ line tip projects over the SVC.", "svc"),
        ("Right-sided central line ends in the superior vena cava.", "svc"),
        ("Left subclavian line tip in the right atrium.", "right atrium"),
        ("Endotracheal tube tip 3 cm above the carina.", "carina"),
        ("Right PICC line.", UNSPECIFIED_REGION),
        ("Left-sided pacemaker as expected.", UNSPECIFIED_REGION),
    ],
)
def test_a_device_is_where_its_tip_is_not_its_side_of_access(parser, sentence, region):
    assert facts(parser, sentence) == {(region, "support device", "present")}


def test_no_acute_cardiopulmonary_abnormality_yields_nothing(parser):
    assert parser.parse("No acute cardiopulmonary abnormality.") == []
    assert parser.parse("No acute cardiopulmonary process.") == []


def test_laterality_and_bilateral_phrases(parser):
    assert facts(parser, "Left basilar atelectasis.") == {("left lower lung zone", "atelectasis", "present")}
    assert facts(parser, "Retrocardiac opacity.") == {("left lower lung zone", "opacity", "present")}
    assert facts(parser, "Bibasilar atelectasis.") == {
        ("left lower lung zone", "atelectasis", "present"), ("right lower lung zone", "atelectasis", "present"),
    }
    assert facts(parser, "Small right pleural effusion.") == {("right costophrenic angle", "pleural effusion", "present")}
    # an unsided zone takes the side its neighbour names
    assert facts(parser, "There is a stable calcified granuloma in the infrahilar right lung.") == {
        ("right lower lung zone", "calcified granuloma", "present"), ("right lung", "calcified granuloma", "present"),
    }


def test_bare_both_is_not_a_side(parser):
    sentence = ("Irregular 1.2 cm opacity in the left upper lung is identified both on PA and lateral "
                "views and XXXX represents chronic scarring.")
    assert {t.region for t in parser.parse(sentence)} == {"left upper lung zone"}
    assert facts(parser, "Minimal XXXX scarring in both lower lobes.") == {
        ("left lower lung zone", "scarring", "present"), ("right lower lung zone", "scarring", "present"),
    }


def test_a_range_of_zones_is_one_group(parser):
    got = facts(parser, "XXXX calcific density in the left mid to upper lung XXXX represents old "
                        "granulomatous disease.")
    assert {region for region, _, _ in got} == {"left upper lung zone"}


def test_names_that_contain_a_finding_word_are_not_that_finding(parser):
    assert parser.parse("Findings consistent with widespread changes from cystic fibrosis.") == []
    got = facts(parser, "There may be a subtle airspace opacity in the right base near the "
                        "midclavicular line.")
    assert got == {("right lower lung zone", "opacity", "uncertain")}


def test_implied_regions(parser):
    assert facts(parser, "Stable mild cardiomegaly.") == {("cardiac silhouette", "cardiomegaly", "present")}
    assert facts(parser, "Tortuous aorta.") == {("aortic arch", "tortuous aorta", "present")}
    assert facts(parser, "There is a mild levoscoliosis of the thoracic spine.") == {("spine", "scoliosis", "present")}
    assert facts(parser, "No pneumothorax.") == {(UNSPECIFIED_REGION, "pneumothorax", "absent")}


def test_anatomy_outside_the_vocabulary_drops_the_finding(parser):
    assert parser.parse("Degenerative left glenohumeral osteoarthritis.") == []
    assert facts(parser, "Mild degenerative changes of the thoracic spine.") == {("spine", "degenerative spine", "present")}


def test_calcified_granuloma_is_not_also_a_calcification(parser):
    assert facts(parser, "Calcified right lower lobe granuloma.") == {
        ("right lower lung zone", "calcified granuloma", "present")
    }


def test_evidence_is_an_exact_substring_and_cue_is_reported(parser):
    sentence = "There is no focal consolidation, pleural effusion, or pneumothorax."
    for triplet in parser.parse(sentence):
        assert triplet.evidence in sentence
        assert triplet.cue == "There is no"


def test_vocabularies_are_respected(parser):
    sentence = "Right upper lobe pneumonia with small left effusion and mild cardiomegaly; tortuous aorta."
    for triplet in parser.parse(sentence):
        assert triplet.region in REGIONS or triplet.region == UNSPECIFIED_REGION
        assert triplet.finding in FINDINGS and triplet.existence in EXISTENCE


def test_every_finding_has_a_spec_and_a_phrase():
    assert set(FINDING_SPECS) == set(FINDINGS)
    named = {f for e in phrase_table().values() if e.kind == "finding" for f in e.value}
    assert named == set(FINDINGS)


def test_finding_phrases_export_the_lexicon_for_peer_tools():
    phrases = finding_phrases()
    assert {f for p in phrases for f in p["findings"]} == set(FINDINGS)
    stems = {p["phrase"] for p in phrases if p["stem"]}
    assert "atelecta" in stems and not any(p["phrase"].endswith("*") for p in phrases)


def test_a_phrase_with_two_meanings_is_refused():
    with pytest.raises(ValueError, match="two meanings"):
        PhraseMatcher({"Mass": Entry("finding", ("mass",)), "mass": Entry("finding", ("nodule",))})


def test_a_blunted_angle_explained_by_scarring_or_called_chronic_is_not_an_effusion(parser):
    # dev-half sentences (issue 17): the blunting is attributed to something else, or chronic
    for sentence in (
        "Blunting of the costophrenic XXXX, and XXXX secondary to scarring/emphysematous changes.",
        "Minimal blunting of the lateral sulci bilaterally XXXX reflects pleural thickening or "
        "scarring, no dependent pleural fluid posteriorly.",
        "There is blunting of the right costophrenic XXXX XXXX old pleural scar.",
        "Chronic blunting of the costophrenic XXXX.",
    ):
        assert existence(parser, sentence).get("pleural effusion", set()) <= {"absent"}, sentence
    # a sign left unexplained still stands for the effusion, and a named effusion is kept
    assert existence(parser, "Mild blunting of right costophrenic XXXX.")["pleural effusion"] == {
        "present"}
    hedged = existence(parser, "Mild blunted right costophrenic XXXX which could be due to XXXX "
                       "effusion or scarring.")
    assert hedged["pleural effusion"] == {"uncertain"}


def test_an_interstitial_opacity_is_an_opacity_not_interstitial_markings(parser):
    assert existence(parser, "Bibasilar and perihilar interstitial opacities.") == {
        "opacity": {"present"}}
    assert existence(parser, "There is prominence of the interstitial markings bilaterally.") == {
        "interstitial markings": {"present"}}


def test_a_negated_cause_does_not_explain_the_blunting(parser):
    assert existence(parser, "Blunting of the left costophrenic XXXX, no scarring.")[
        "pleural effusion"] == {"present"}


def test_a_broken_device_is_no_bone_fracture(parser):
    # constructed sentences: a device is the subject or object of the fracture
    for sentence in ("The lowest sternal wire is fractured.", "Fractured pacemaker lead.",
                     "There is a fracture of the most inferior sternotomy wire.",
                     "The lateral fixation screw appears broken.",
                     "The upper screw of the clavicular fixation plate is fractured."):
        found = existence(parser, sentence)
        assert "fracture" not in found, sentence
        assert found["support device"] == {"present"}, sentence
    # a bone named in the clause, or a noun "fracture" beside a device, stays a bone fracture
    assert existence(parser, "Fractured left rib near the pacemaker lead.")["fracture"] == {"present"}
    assert existence(parser, "Healed fracture with plate and screws.")["fracture"] == {"present"}
    assert existence(parser, "Old healed fracture.")["fracture"] == {"present"}


def test_the_deidentification_mask_does_not_split_a_negation(parser):
    assert existence(parser, "The previously noted nodule is not XXXX seen.") == {
        "nodule": {"absent"}}
    assert existence(parser, "A pneumothorax is not XXXX identified.") == {"pneumothorax": {"absent"}}
    triplet, = parser.parse("The small effusion is not XXXX seen.")
    assert triplet.cue == "not XXXX seen"  # evidence and cue keep the stored text


def test_prominent_hilar_vessels_are_no_edema_unless_stated(parser):
    for sentence in ("Prominent hilar vessels bilaterally.",
                     "Mild prominence of the right hilum which could be vascular.",
                     "Enlarged right hilar vasculature."):
        assert "edema" not in existence(parser, sentence), sentence
    assert existence(parser, "Prominent pulmonary vasculature.")["edema"] == {"present"}
    assert existence(parser, "Hilar vascular congestion.")["edema"] == {"present"}
    assert existence(parser, "Normal hilar vessels.")["edema"] == {"absent"}


def test_a_pattern_adjective_is_said_of_the_finding_it_modifies(parser):
    # constructed sentences: a bare pattern word before another finding's noun is its pattern
    for sentence, finding in (("Basilar reticular opacities.", "opacity"),
                              ("Scattered interstitial densities.", "opacity"),
                              ("Diffuse reticulonodular interstitial opacities.", "opacity"),
                              ("Increased interstitial and mild patchy airspace opacities.", "opacity"),
                              ("Mild interstitial pulmonary edema.", "edema"),
                              ("Stable interstitial fibrotic changes in both lungs.", "scarring")):
        assert existence(parser, sentence) == {finding: {"present"}}, sentence
    # as the head of its phrase, or not directly before a finding, it is the finding itself
    markings = {"interstitial markings": {"present"}}
    for sentence, expected in (
        ("Coarse reticular markings.", markings),
        ("Reticulonodular changes at the left base.", {**markings, "nodule": {"present"}}),
        ("Interstitial prominence and bibasilar opacity.", {**markings, "opacity": {"present"}}),
        ("Diffuse interstitial abnormality and patchy opacity.",
         {**markings, "opacity": {"present"}}),
        ("Increased interstitial, no edema.", {**markings, "edema": {"absent"}}),
    ):
        assert existence(parser, sentence) == expected, sentence


def test_findings_offered_as_alternatives_are_uncertain(parser):
    for sentence in ("Minimal left basilar subsegmental atelectasis or scarring.",
                     "Left base atelectasis and/or effusion.",
                     "Right base atelectasis, scarring, or pneumonia."):
        found = existence(parser, sentence)
        assert len(found) >= 2 and all(v == {"uncertain"} for v in found.values()), sentence
    assert {t.cue for t in parser.parse("Atelectasis OR scarring.")} == {"OR"}  # the stored text
    assert {t.cue for t in parser.parse("Atelectasis and/or scarring.")} == {"and/or"}
    # a finding outside the alternatives, a negated list, a pseudo-negation, an "and" and an "or"
    # between modifiers keep their reading
    for sentence, finding, reading in (
        ("Cardiomegaly, with edema or effusion.", "cardiomegaly", "present"),
        ("No effusion or pneumothorax.", "pneumothorax", "absent"),
        ("No change in the effusion or atelectasis.", "atelectasis", "present"),
        ("Cardiomegaly and edema.", "edema", "present"),
        ("Improved consolidation with mild residual or recurrent pneumonia.", "consolidation",
         "present"),
    ):
        assert existence(parser, sentence)[finding] == {reading}, sentence


def test_a_hedge_after_the_finding_governs_it(parser):
    for sentence in ("A small effusion may be present.", "Atelectasis may be seen at the base.",
                     "Pneumonia is less likely.", "Atelectasis is favored."):
        assert set().union(*existence(parser, sentence).values()) == {"uncertain"}, sentence
    assert existence(parser, "No effusion is seen, though atelectasis may be present.") == {
        "pleural effusion": {"absent"}, "atelectasis": {"uncertain"}}


def test_a_denied_or_incomplete_resolution_leaves_the_finding(parser):
    for sentence in ("The effusion has not resolved.", "Partially resolved left effusion.",
                     "The effusion has not completely resolved.", "Effusion has nearly resolved.",
                     "Near complete resolution of the effusion.",
                     "Partial clearing of the atelectasis."):
        assert set().union(*existence(parser, sentence).values()) == {"present"}, sentence
    for sentence in ("The effusion has resolved.", "Interval resolution of the effusion.",
                     "Interval clearing of the atelectasis."):
        assert set().union(*existence(parser, sentence).values()) == {"absent"}, sentence


def test_not_seen_on_another_image_is_no_negation_of_this_one(parser):
    # constructed sentences: a comparison names an earlier study, a view another image of this one
    for sentence in ("Left midlung opacity noted, not visualized on prior.",
                     "Small left effusion, not seen on the prior study.",
                     "New right basilar nodule not present previously."):
        assert set().union(*existence(parser, sentence).values()) == {"present"}, sentence
    assert existence(parser, "Right basilar nodule seen on the frontal view, not identified on "
                     "the lateral view.") == {"nodule": {"uncertain"}}
    for sentence in ("The effusion has resolved since the prior study.",
                     "The previously seen nodule is not seen.", "Pneumothorax is not seen."):
        assert set().union(*existence(parser, sentence).values()) == {"absent"}, sentence


def test_a_hedge_after_a_comma_governs_its_own_subject(parser):
    # constructed sentences: the finding before the comma is stated, the one after it hedged
    assert existence(parser, "Left basilar opacity, pneumonia cannot be excluded.") == {
        "opacity": {"present"}, "pneumonia": {"uncertain"}}
    assert existence(parser, "Cardiomegaly with small effusions, edema is not excluded.") == {
        "cardiomegaly": {"present"}, "pleural effusion": {"present"}, "edema": {"uncertain"}}
    # a list that ends with a coordinator is one subject; a negation still reaches a list
    assert set().union(*existence(parser, "Atelectasis, scarring, or pneumonia is possible."
                                  ).values()) == {"uncertain"}
    assert existence(parser, "Pneumothorax, effusion not seen.") == {
        "pneumothorax": {"absent"}, "pleural effusion": {"absent"}}


def test_spine_curvature_spurs_and_endplates(parser):
    # dev sentences: a lateral curvature of the spine is scoliosis, spurs and endplate changes
    # are degenerative
    for sentence in ("S-shaped spine curvature noted.",
                     "Mild right apex curvature of the lower thoracic spine."):
        assert existence(parser, sentence) == {"scoliosis": {"present"}}, sentence
    for sentence in ("Spurring of the thoracic spine.", "There are endplate changes in the spine.",
                     "Bridging syndesmophytes are noted throughout visualized thoracolumbar "
                     "spine."):
        assert existence(parser, sentence) == {"degenerative spine": {"present"}}, sentence
    # kyphosis is another curvature; a shoulder's spurs are not the spine's
    assert existence(parser, "There is increased kyphotic curvature of the thoracic spine.") == {}
    assert existence(parser, "Normal curvature of the spine.") == {}
    assert existence(parser, "Degenerative spurring of both shoulders.") == {}


def test_borderline_heart_size_obstructive_disease_and_thickened_fissures(parser):
    for sentence in ("Borderline heart size.", "The heart is borderline in size.",
                     "Stable cardiomediastinal silhouette with borderline heart size."):
        assert existence(parser, sentence) == {"cardiomegaly": {"present"}}, sentence
    assert existence(parser, "Borderline cardiomegaly.") == {"cardiomegaly": {"uncertain"}}
    assert existence(parser, "Lungs are hyperexpanded consistent with obstructive lung disease.")[
        "emphysema"] == {"present"}
    for sentence in ("There is thickening of the fissure.", "Thickened minor fissure.",
                     "Increased interstitial markings and fissural thickening."):
        assert existence(parser, sentence)["pleural thickening"] == {"present"}, sentence
    assert existence(parser, "No displacement of the minor fissure.") == {}
    assert existence(parser, "Pleural fluid tracks along the right minor fissure.") == {
        "pleural effusion": {"present"}}


def test_a_granuloma_absorbs_its_own_calcification_not_another_conjuncts(parser):
    got = existence(parser, "Calcified right upper lobe pulmonary granuloma and calcified right "
                            "hilar lymph XXXX.")
    assert got == {"calcified granuloma": {"present"}, "calcification": {"present"}}
    got = existence(parser, "Left perihilar calcified lymph XXXX and left basilar calcified "
                            "granuloma.")
    assert got == {"calcified granuloma": {"present"}, "calcification": {"present"}}
    # "and" inside a run of anatomy joins places of one granuloma phrase
    assert existence(parser, "Calcified bilateral lung and perihilar granulomas.") == {
        "calcified granuloma": {"present"}}
    assert existence(parser, "The granuloma is calcified.") == {"calcified granuloma": {"present"}}


def test_a_grade_before_a_finding_is_not_said_of_an_organ(parser):
    # dev: "large" is the hernia's size, not the mediastinum's
    got = existence(parser, "There is an air-fluid level in the middle mediastinum, most XXXX "
                            "secondary to a large hiatal hernia.")
    assert got == {"hiatal hernia": {"present"}}
    assert existence(parser, "Stable mediastinal contours with a large hiatal hernia.") == {
        "hiatal hernia": {"present"}}
    assert existence(parser, "Prominent aortic calcification.") == {"calcification": {"present"}}
    # a grade of the organ itself still names its finding; normal/clear are no grades
    assert existence(parser, "Enlarged heart with small bilateral effusions.") == {
        "cardiomegaly": {"present"}, "pleural effusion": {"present"}}
    assert existence(parser, "Prominent ascending aorta.") == {"tortuous aorta": {"present"}}
    assert existence(parser, "The lungs are clear pneumothorax.") == {
        "opacity": {"absent"}, "pneumothorax": {"absent"}}


def test_a_nodular_shadow_called_a_granuloma_is_no_nodule(parser):
    got = existence(parser, "Nodular densities consistent with chronic granulomatous disease.")
    assert got == {"opacity": {"present"}, "calcified granuloma": {"present"}}
    got = existence(parser, "Nodular opacity projecting over the posterior right 9th rib and XXXX "
                            "reflects granuloma.")
    assert "nodule" not in got and got["opacity"] == {"present"}
    # a noun "nodule" stays a nodule; a nodular opacity nothing explains, or a denied
    # granuloma, stays a nodule too
    got = existence(parser, "Dense nodule again noted in the right lower lobe suggesting a "
                            "previous granulomatous process.")
    assert got["nodule"] == {"present"}
    assert existence(parser, "6 mm left lung nodular opacity.")["nodule"] == {"present"}
    assert existence(parser, "Nodular opacity in the left upper lobe, no granuloma.")["nodule"] == {
        "present"}
