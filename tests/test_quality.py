"""Great-expectations suites name what is wrong with a bad table."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from cxralign.quality import SUITES, validate_table


def images_table(**overrides) -> pa.Table:
    columns = {
        "image_id": ["a", "b"],
        "study_id": ["s1", "s2"],
        "photometric": ["MONOCHROME1", "MONOCHROME2"],
        "bits_stored": [12, 15],
        "rows": [1024, 2048],
        "columns": [1024, 1800],
        "split": ["train", "test"],
        "sha256": ["0" * 64, "f" * 64],
        "study_date": [date(2010, 1, 5), None],
    }
    return pa.table(columns | overrides)


def test_a_good_images_table_passes():
    report = validate_table("images", images_table(), SUITES["images"]())
    assert report.success, [f.describe() for f in report.failures]
    assert report.evaluated == len(SUITES["images"]())


def test_an_images_table_without_the_shifted_date_fails():
    report = validate_table("images", images_table().drop_columns(["study_date"]),
                            SUITES["images"]())
    assert [f.expectation for f in report.failures] == ["expect_column_to_exist"]


def test_failures_name_the_expectation_the_column_and_examples():
    bad = images_table(image_id=["a", "a"], photometric=["RGB", "MONOCHROME2"])
    report = validate_table("images", bad, SUITES["images"]())
    described = {f.expectation: f for f in report.failures}
    assert not report.success
    assert set(described) == {"expect_column_values_to_be_unique", "expect_column_values_to_be_in_set"}
    assert described["expect_column_values_to_be_in_set"].column == "photometric"
    assert "RGB" in described["expect_column_values_to_be_in_set"].describe()


def test_boxes_suite_catches_swapped_lungs_missing_regions_and_escaping_boxes():
    from cxralign.quality.views import boxes_geometry
    from cxralign.vocabulary import REGIONS

    # A 512 x 256 original staged at scale 0.5 is a 256-pixel square.
    images = pa.table({"image_id": ["img"], "rows": [512], "columns": [256], "staged_scale": [0.5]})

    def box(region: str, x1: float = 10.0, x2: float = 50.0) -> dict:
        return {"image_id": "img", "region": region, "x1": x1, "y1": 10.0, "x2": x2, "y2": 50.0,
                "score": 0.9, "source": "atlas"}

    good = [box(r, 60.0, 120.0) if r == "left lung" else box(r) for r in REGIONS]
    report = validate_table("boxes", boxes_geometry(pa.Table.from_pylist(good), images), SUITES["boxes"]())
    assert report.success, [f.describe() for f in report.failures]

    # Lungs on top of each other (so not right-of-left), the spine leaving the image, no abdomen.
    bad = [box(r, x2=300.0) if r == "spine" else box(r) for r in REGIONS if r != "abdomen"]
    report = validate_table("boxes", boxes_geometry(pa.Table.from_pylist(bad), images), SUITES["boxes"]())
    assert {(f.expectation, f.column) for f in report.failures} == {
        ("expect_column_values_to_be_in_set", "inside_image"),
        ("expect_column_values_to_be_between", "regions_in_image"),
        ("expect_column_values_to_be_in_set", "lungs_in_place"),
    }


def test_sentences_must_be_the_text_their_offsets_cut_from_the_section():
    from cxralign.quality.views import sentences_in_sections

    sections = pa.table({"study_id": ["s1"], "findings": ["Lungs clear. No effusion."],
                         "impression": [None]})
    sentences = pa.table({
        "study_id": ["s1", "s1"], "sentence_index": [0, 1], "section": ["findings", "findings"],
        "text": ["Lungs clear.", "No effusion."], "char_start": [0, 13], "char_end": [12, 25],
    })
    report = validate_table("sentences", sentences_in_sections(sentences, sections), SUITES["sentences"]())
    assert report.success, [f.describe() for f in report.failures]

    shifted = sentences.set_column(4, "char_start", pa.array([0, 14]))
    duplicated = shifted.set_column(1, "sentence_index", pa.array([0, 0]))
    report = validate_table("sentences", sentences_in_sections(duplicated, sections), SUITES["sentences"]())
    assert {(f.expectation, f.column) for f in report.failures} == {
        ("expect_column_values_to_be_in_set", "offsets_match_section"),
        ("expect_compound_columns_to_be_unique", None),
    }


def test_report_findings_must_be_backed_by_a_positive_triplet_once_per_report():
    from cxralign.quality.views import report_findings_with_triplets
    from cxralign.text.calibration import REPORT_FINDINGS_SCHEMA

    triplets = pa.table({"study_id": ["s1", "s1"], "finding": ["atelectasis", "pneumothorax"],
                         "existence": ["uncertain", "absent"]})

    def row(finding: str, kind: str = "weak", probability: float = 0.1) -> dict:
        return {"study_id": "s1", "finding": finding, "evidence_kind": kind,
                "probability": probability, "indexed": False}

    good = pa.Table.from_pylist([row("atelectasis")], schema=REPORT_FINDINGS_SCHEMA)
    report = validate_table("report_findings", report_findings_with_triplets(good, triplets),
                            SUITES["report_findings"]())
    assert report.success, [f.describe() for f in report.failures]

    # a finding the triplets only negate, a repeated row, an unknown kind, a probability > 1
    bad = pa.Table.from_pylist([row("atelectasis"), row("atelectasis", "vague"),
                                row("pneumothorax", probability=1.5)],
                               schema=REPORT_FINDINGS_SCHEMA)
    report = validate_table("report_findings", report_findings_with_triplets(bad, triplets),
                            SUITES["report_findings"]())
    assert {(f.expectation, f.column) for f in report.failures} == {
        ("expect_column_values_to_be_in_set", "has_positive_triplet"),
        ("expect_column_values_to_be_in_set", "evidence_kind"),
        ("expect_column_values_to_be_between", "probability"),
        ("expect_compound_columns_to_be_unique", None),
    }


def write_log(directory, **columns) -> None:
    import pyarrow.parquet as pq

    directory.mkdir(parents=True)
    base = {"step": [1, 2, 3], "epoch": [0, 0, 1], "loss": [2.0, 1.5, 1.2],
            "lr": [1e-4, 1e-4, 5e-5], "pairs_per_second": [40.0, 41.0, 39.5]}
    pq.write_table(pa.table(base | columns), directory / "training_log.parquet")


def test_training_logs_are_checked_per_model_with_their_own_loss_terms(tmp_path):
    from cxralign.layout import PRETRAIN_MODELS_DIR
    from cxralign.quality import DataDocsSite
    from cxralign.quality.tables import gated_tables, suite_for

    models = tmp_path / PRETRAIN_MODELS_DIR
    write_log(models / "convirt" / "seed-0")  # no loss terms beyond the total
    write_log(models / "asg" / "seed-0", loss_region_sentence=[0.5, float("inf"), 0.4],
              step=[1, 3, 3], pairs_per_second=[40.0, 0.0, 39.0])
    write_log(models / "asg" / "seed-1", loss_region_sentence=[0.5, float("nan"), 0.4],
              lr=[1e-4, -1e-5, 0.0])

    site = DataDocsSite.for_data_dir(tmp_path)
    tables = gated_tables("training_log", tmp_path)
    assert list(tables) == ["asg/seed-0", "asg/seed-1", "convirt/seed-0"]
    # A recipe × seed partition's check validates that run's log only: a broken seed fails
    # its own check, not its neighbours'.
    assert list(gated_tables("training_log", tmp_path, ["convirt|0"])) == ["convirt/seed-0"]
    reports = {label: validate_table("training_log", t, suite_for("training_log", t), docs=site, batch=label)
               for label, t in tables.items()}

    assert reports["convirt/seed-0"].success
    failed = {label: {(f.expectation, f.column) for f in r.failures} for label, r in reports.items()}
    assert failed["asg/seed-0"] == {
        ("expect_column_values_to_be_between", "loss_region_sentence"),  # inf
        ("expect_column_values_to_be_between", "step_increment"),  # 3 after 3
        ("expect_column_values_to_be_between", "pairs_per_second"),  # 0 is not > 0
    }
    assert failed["asg/seed-1"] == {
        ("expect_column_values_to_not_be_null", "loss_region_sentence"),  # NaN
        ("expect_column_values_to_be_between", "lr"),
    }
    # Every result is a Data Docs page, listed on the site's index.
    index = site.index.read_text()
    for label, report in reports.items():
        assert report.docs_page is not None and report.docs_page.is_file()
        assert report.docs_page.relative_to(site.site_dir).as_posix() in index, label


def test_evaluation_metrics_need_rates_in_range_and_every_metric_for_every_recipe():
    from cxralign.quality.views import evaluation_completeness, is_rate

    rates = ["zero_shot_macro_auc", "i2t_R@5", "probe_auc@10%", "grounding_top1",
             "segmentation_dice", "BLEU-4", "ROUGE-L"]
    others = ["grounding_mean_rank", "grounding_queries", "segmentation_train_images", "seconds"]
    assert [m for m in rates if not is_rate(m)] == [] and [m for m in others if is_rate(m)] == []
    good = pa.table({
        "recipe": ["asg", "asg", "convirt", "convirt"],
        "metric": ["zero_shot_macro_auc", "median_rank"] * 2,
        "mean": [0.8, 12.0, 0.7, 15.0], "std": [0.01, 1.0, 0.02, 0.0],
        "n_seeds": [3, 3, 3, 1], "seeds": [[0, 1, 2]] * 3 + [[0]],
    })
    suite = SUITES["evaluation_metrics"]()
    report = validate_table("evaluation_metrics", evaluation_completeness(good), suite)
    assert report.success, [f.describe() for f in report.failures]

    bad = good.slice(0, 3).set_column(2, "mean", pa.array([1.2, 12.0, 0.7])).set_column(
        3, "std", pa.array([0.01, -1.0, 0.02]))
    report = validate_table("evaluation_metrics", evaluation_completeness(bad), suite)
    described = {f.column: f.describe() for f in report.failures}
    assert set(described) == {"rate_mean", "std", "missing_metrics"}
    assert "convirt: median_rank" in described["missing_metrics"]
