"""Hostile and odd DICOM inputs, made with pydicom from real files: each class ends as a
rejection with its own reason (or, where the issue says so, a kept row with a flag)."""

from __future__ import annotations

import logging
import os
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    DigitalXRayImageStorageForPresentation,
    SecondaryCaptureImageStorage,
)

from cxralign.io.catalog import Catalog
from cxralign.io.dicom import load_dicom
from cxralign.io.ingest import IngestSummary
from cxralign.io.locate import locate_inputs
from cxralign.io.preprocess import LoadedImage
from cxralign.io.rejections import Flag, Reason, Rejection

Runner = Callable[..., tuple[Catalog, IngestSummary]]
SIZE = 64


def _load(path: Path, **options: object) -> LoadedImage:
    return load_dicom(path, SIZE, 64, 8192, **options)  # type: ignore[arg-type]


def _reason(path: Path, **options: object) -> str:
    with pytest.raises(Rejection) as caught:
        _load(path, **options)
    return caught.value.reason


@pytest.fixture
def rg1(shared_data: Path) -> Dataset:
    return pydicom.dcmread(shared_data / "dicom/RG1_UNCR.dcm")


def _write(dataset: Dataset, path: Path) -> Path:
    dataset.save_as(path, enforce_file_format=False)
    return path


def _rescaled(value: str) -> Callable[[Dataset], None]:
    def edit(dataset: Dataset) -> None:
        dataset.RescaleSlope = value
        dataset.RescaleIntercept = "0"
    return edit


def _set(keyword: str, value: object) -> Callable[[Dataset], None]:
    return lambda dataset: setattr(dataset, keyword, value)


def _blank(dataset: Dataset) -> None:
    dataset.PixelData = np.full((dataset.Rows, dataset.Columns), 1234, np.uint16).tobytes()


def _empty_voi_lut(dataset: Dataset) -> None:
    dataset.VOILUTSequence = Sequence([])


def _ot_secondary_capture(dataset: Dataset) -> None:
    dataset.Modality = "OT"
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    del dataset.BodyPartExamined


def _feline(dataset: Dataset) -> None:
    dataset.PatientSpeciesDescription = "Feline"


HOSTILE: dict[str, tuple[Callable[[Dataset], None], str]] = {
    "modality CT\\DX": (_set("Modality", ["CT", "DX"]), Reason.MULTI_VALUED_MODALITY),
    "photometric twice": (
        _set("PhotometricInterpretation", ["MONOCHROME1", "MONOCHROME2"]),
        Reason.MULTI_VALUED_PHOTOMETRIC,
    ),
    "slope NaN": (_rescaled("NaN"), Reason.INVALID_RESCALE),
    "slope 0": (_rescaled("0"), Reason.INVALID_RESCALE),
    "slope inf": (_rescaled("inf"), Reason.INVALID_RESCALE),
    "burned-in text": (_set("BurnedInAnnotation", "YES"), Reason.BURNED_IN_ANNOTATION),
    "feline": (_feline, Reason.NON_HUMAN_SUBJECT),
    "OT secondary capture, no body part": (_ot_secondary_capture, Reason.NON_RADIOGRAPH_MODALITY),
    "empty VOI LUT": (_empty_voi_lut, Reason.INVALID_VOI_LUT),
    "constant pixels": (_blank, Reason.BLANK_IMAGE),
    "abdomen": (_set("BodyPartExamined", "ABDOMEN"), Reason.NON_CHEST_BODY_PART),
    "unheard-of body part": (_set("BodyPartExamined", "WIDGET"), Reason.NON_CHEST_BODY_PART),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_header_is_rejected_with_its_own_reason(
    case: str, rg1: Dataset, tmp_path: Path
) -> None:
    edit, reason = HOSTILE[case]
    edit(rg1)
    assert _reason(_write(rg1, tmp_path / "x.dcm")) == reason


def test_non_numeric_frame_count_has_its_own_reason(rg1: Dataset, tmp_path: Path) -> None:
    rg1.NumberOfFrames = 1
    path = _write(rg1, tmp_path / "f.dcm")
    # pydicom refuses to write "abc" into an IS element; a broken writer elsewhere does not.
    element = b"\x28\x00\x08\x00IS\x02\x001 "
    assert path.read_bytes().count(element) == 1
    path.write_bytes(path.read_bytes().replace(element, b"\x28\x00\x08\x00IS\x04\x00abc "))
    assert _reason(path) == Reason.INVALID_FRAME_COUNT


def test_ct_without_modality_is_refused_by_its_sop_class(tmp_path: Path) -> None:
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ct.Modality
    assert _reason(_write(ct, tmp_path / "ct.dcm")) == Reason.NON_RADIOGRAPH_MODALITY


def test_dx_sop_class_without_modality_is_kept_and_flagged(rg1: Dataset, tmp_path: Path) -> None:
    del rg1.Modality
    rg1.SOPClassUID = DigitalXRayImageStorageForPresentation
    image = _load(_write(rg1, tmp_path / "dx.dcm"))
    assert image.modality == "DX" and Flag.MODALITY_MISSING in image.flags


def test_burned_in_annotation_can_be_kept_with_a_flag(rg1: Dataset, tmp_path: Path) -> None:
    rg1.BurnedInAnnotation = "YES"
    image = _load(_write(rg1, tmp_path / "b.dcm"), burned_in="flag")
    assert Flag.BURNED_IN_ANNOTATION in image.flags


def test_deflate_bomb_is_refused_before_it_inflates(tmp_path: Path) -> None:
    """131 KB on disk, an 8192 x 8192 constant image inside: refused with bounded memory."""
    bomb = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    bomb.Modality, bomb.SOPClassUID = "CR", DigitalXRayImageStorageForPresentation
    bomb.Rows = bomb.Columns = 8192
    bomb.PixelData = bytes(8192 * 8192 * 2)
    bomb.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = _write(bomb, tmp_path / "bomb.dcm")
    del bomb
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        reason = _reason(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason == Reason.TOO_MANY_PIXELS
    assert peak < 32 << 20, f"refusing the bomb allocated {peak >> 20} MiB"


def test_file_without_preamble_is_read(shared_data: Path, tmp_path: Path) -> None:
    raw = (shared_data / "dicom/RG1_UNCR.dcm").read_bytes()
    headless = tmp_path / "headless.dcm"
    headless.write_bytes(raw[132:])  # no 128-byte preamble, no "DICM"
    assert _load(headless).sha256 == _load(shared_data / "dicom/RG1_UNCR.dcm").sha256


def test_header_warnings_are_counted_not_printed(
    rg1: Dataset, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rg1.SOPInstanceUID = "1.2.DOE.JOHN"  # an invalid UI value: pydicom warns and quotes it
    path = _write(rg1, tmp_path / "w.dcm")
    caplog.clear()
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG):
        image = _load(path)
    assert Flag.HEADER_WARNINGS in image.flags
    captured = capsys.readouterr()
    shown = " ".join([*(r.getMessage() for r in caplog.records), captured.out, captured.err])
    assert "DOE" not in shown and str(tmp_path) not in shown


def test_every_walked_path_ends_in_one_table_and_can_be_traced(
    run_ingest: Runner, rg1: Dataset, shared_data: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(shared_data / "dicom/RG1_UNCR.dcm", source / "a.dcm")
    rg1.SOPInstanceUID = "1.2.3.4.5"  # another instance, the same pixels
    _write(rg1, source / "b.dcm")
    (source / "broken.dcm").symlink_to(tmp_path / "gone.dcm")
    catalog, summary = run_ingest(source, tmp_path / "data", workers=1, staged_size=SIZE)

    images = catalog.read_table("images").to_pylist()
    rejected = catalog.read_table("rejected_inputs").to_pylist()
    assert len(images) + len(rejected) == 3
    assert [Flag.DUPLICATE_PIXELS in row["quality_flags"] for row in images] == [False, True]
    assert [row["reason"] for row in rejected] == [Reason.MISSING_FILE]
    assert summary.rejected == {Reason.MISSING_FILE: 1}
    # The operator maps a rejection back to its file; the tables never name it.
    digest = rejected[0]["source_path_hash"]
    assert locate_inputs(source, [digest], catalog.root) == {digest: "broken.dcm"}


def test_outputs_follow_the_umask(run_ingest: Runner, mimic_tree: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        catalog, _ = run_ingest(mimic_tree, tmp_path / "data", workers=1, staged_size=SIZE)
    finally:
        os.umask(previous)
    modes = {p.relative_to(catalog.root).as_posix(): p.stat().st_mode & 0o777
             for p in catalog.root.rglob("*")}
    assert modes and all(
        mode == (0o755 if (catalog.root / name).is_dir() else 0o644) for name, mode in modes.items()
    ), modes


def test_no_crash_on_pydicoms_public_files(run_ingest: Runner, tmp_path: Path) -> None:
    """Every DICOM file pydicom ships (CT, MR, US, RGB, multi-frame, broken ones) ends in
    exactly one table, and none of them is a chest radiograph that could be kept."""
    source = tmp_path / "pydicom"
    source.mkdir()
    files = [Path(f) for f in get_testdata_files("*") if Path(f).suffix.lower() == ".dcm"]
    for index, path in enumerate(files):
        shutil.copy(path, source / f"{index:03d}.dcm")
    catalog, summary = run_ingest(source, tmp_path / "data", workers=1, staged_size=SIZE)
    rows = catalog.read_table("images").num_rows + catalog.read_table("rejected_inputs").num_rows
    assert rows == len(files) >= 70
    assert Reason.INTERNAL_ERROR not in summary.rejected, summary.rejected
