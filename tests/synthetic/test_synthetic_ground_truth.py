"""Region and lesion boxes: complete, inside the image, anatomically placed."""

from __future__ import annotations

from cxralign.vocabulary import EXISTENCE, FINDINGS, REGIONS, UNSPECIFIED_REGION

TOLERANCE = 1.0  # pixels


def inside(inner, outer, tolerance: float = TOLERANCE) -> bool:
    return (inner[0] >= outer[0] - tolerance and inner[1] >= outer[1] - tolerance
            and inner[2] <= outer[2] + tolerance and inner[3] <= outer[3] + tolerance)


def centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def test_all_29_regions_inside_every_image(dataset) -> None:
    for study in dataset.studies:
        boxes = dataset.boxes(study["image_key"])
        assert list(boxes) == list(REGIONS)
        image = (0.0, 0.0, float(study["columns"]), float(study["rows"]))
        for region, box in boxes.items():
            assert inside(box, image, 0.0), region
            assert box[2] - box[0] >= 2 and box[3] - box[1] >= 2, region


def test_regions_are_anatomically_placed(dataset) -> None:
    for study in dataset.studies:
        b = dataset.boxes(study["image_key"])
        for side in ("right", "left"):
            lung = b[f"{side} lung"]
            for part in ("upper lung zone", "mid lung zone", "lower lung zone", "apical zone",
                         "hilar structures"):
                assert inside(b[f"{side} {part}"], lung), f"{side} {part}"
            upper, mid, lower = (
                centre(b[f"{side} {z} lung zone"])[1] for z in ("upper", "mid", "lower")
            )
            assert centre(b[f"{side} apical zone"])[1] < upper < mid < lower
            assert centre(b[f"{side} hemidiaphragm"])[1] > lower
            assert centre(b[f"{side} costophrenic angle"])[1] > mid
        # Patient right is image left; the heart and aortic knob lie to the patient's left.
        assert centre(b["right lung"])[0] < centre(b["spine"])[0] < centre(b["left lung"])[0]
        assert centre(b["right costophrenic angle"])[0] < centre(b["right lower lung zone"])[0]
        assert centre(b["left costophrenic angle"])[0] > centre(b["left lower lung zone"])[0]
        assert centre(b["cardiac silhouette"])[0] > centre(b["trachea"])[0]
        assert centre(b["aortic arch"])[0] > centre(b["trachea"])[0]
        assert centre(b["aortic arch"])[1] < centre(b["carina"])[1] < centre(b["cardiac silhouette"])[1]
        assert inside(b["cardiac silhouette"], b["mediastinum"])
        assert inside(b["upper mediastinum"], b["mediastinum"])
        assert inside(b["right atrium"], b["cardiac silhouette"])
        assert centre(b["right atrium"])[0] < centre(b["cardiac silhouette"])[0]
        assert centre(b["abdomen"])[1] > centre(b["right hemidiaphragm"])[1]
        assert centre(b["right clavicle"])[0] < centre(b["left clavicle"])[0]


def test_lesion_boxes_lie_in_their_region(dataset) -> None:
    lesions = [row for row in dataset.findings if row["existence"] != "absent"]
    assert lesions
    for lesion in lesions:
        b = dataset.boxes(lesion["image_key"])
        box = (lesion["x1"], lesion["y1"], lesion["x2"], lesion["y2"])
        region = lesion["region"]
        if region.startswith(("right", "left")):
            side = region.split(" ")[0]
            assert inside(box, b[f"{side} lung"], 2.0), lesion
            # the lesion reaches into the region it is reported in
            r = b[region]
            assert box[0] < r[2] and box[2] > r[0] and box[1] < r[3] and box[3] > r[1], lesion
        elif lesion["finding"] == "cardiomegaly":
            assert box == b["cardiac silhouette"]
        else:  # a device: its tip is in the region the report names
            assert inside((*centre(box), *centre(box)), b[region], 2.0), lesion


def test_cardiomegaly_is_a_large_heart(dataset) -> None:
    ratios = {}
    for study in dataset.studies:
        b = dataset.boxes(study["image_key"])
        heart = b["cardiac silhouette"][2] - b["cardiac silhouette"][0]
        ratios[study["study_key"]] = heart / (b["left lung"][2] - b["right lung"][0])
    enlarged = {r["study_key"] for r in dataset.findings
                if r["finding"] == "cardiomegaly" and r["existence"] == "present"}
    normal = {r["study_key"] for r in dataset.findings
              if r["finding"] == "cardiomegaly" and r["existence"] == "absent"}
    assert enlarged and normal
    assert min(ratios[s] for s in enlarged) > max(ratios[s] for s in normal)


def test_vocabularies_and_absent_rows(dataset) -> None:
    for row in dataset.findings:
        assert row["finding"] in FINDINGS and row["existence"] in EXISTENCE
        assert row["region"] in REGIONS or row["region"] == UNSPECIFIED_REGION
        has_box = row["x1"] is not None
        assert has_box == (row["existence"] != "absent"), row
    for row in dataset.sentences:
        assert row["finding"] in FINDINGS and row["existence"] in EXISTENCE
        assert all(r in REGIONS or r == UNSPECIFIED_REGION for r in row["regions"])


def test_normal_studies_have_no_lesions(dataset) -> None:
    normal = {s["study_key"] for s in dataset.studies if s["is_normal"]}
    assert 0.15 * len(dataset.studies) <= len(normal) <= 0.5 * len(dataset.studies)
    stated = {r["study_key"] for r in dataset.findings if r["existence"] != "absent"}
    assert not normal & stated
    assert stated == {s["study_key"] for s in dataset.studies} - normal
    assert not normal & {r["study_key"] for r in dataset.sentences if r["existence"] != "absent"}


def test_finding_variety(dataset) -> None:
    present = {r["finding"] for r in dataset.findings if r["existence"] != "absent"}
    assert len(present) >= 8
    assert any(r["existence"] == "uncertain" for r in dataset.findings)
    per_study = {}
    for r in dataset.findings:
        if r["existence"] != "absent":
            per_study.setdefault(r["study_key"], set()).add(r["finding"])
    assert max(len(f) for f in per_study.values()) >= 2
    bilateral = [r for r in dataset.sentences
                 if any(x.startswith("right") for x in r["regions"])
                 and any(x.startswith("left") for x in r["regions"]) and r["existence"] != "absent"]
    assert bilateral
