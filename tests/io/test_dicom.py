"""Decoding and staging real DICOM files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxralign.io.dicom import load_dicom
from cxralign.io.rejections import Flag, Reason, Rejection

SIZE = 256


def load(path: Path):
    return load_dicom(path, SIZE, min_side=64, max_side=8192)


def test_uncompressed_and_jpeg2000_lossless_decode_identically(shared_data: Path) -> None:
    plain = load(shared_data / "dicom/RG1_UNCR.dcm")
    j2k = load(shared_data / "dicom/RG1_J2KR.dcm")
    assert plain.sha256 == j2k.sha256
    np.testing.assert_array_equal(plain.staged, j2k.staged)
    assert (plain.rows, plain.columns, plain.bits_stored) == (1955, 1841, 15)


def test_geometry_is_top_left_with_one_scale(shared_data: Path) -> None:
    image = load(shared_data / "dicom/RG1_UNCR.dcm")
    assert image.scale == SIZE / 1955
    content_columns = int(1841 * image.scale)  # 241
    assert image.staged.shape == (SIZE, SIZE) and image.staged.dtype == np.uint8
    assert not image.staged[:, content_columns:].any()  # right padding is black
    assert image.staged[:, content_columns - 1].any()


def test_monochrome1_is_inverted_into_monochrome2(shared_data: Path) -> None:
    mono2 = load(shared_data / "dicom/siim_pneumothorax_sample.dcm")
    mono1 = load(shared_data / "dicom/siim_sample_fake_monochrome1.dcm")
    assert (mono2.photometric, mono1.photometric) == ("MONOCHROME2", "MONOCHROME1")
    assert mono1.sha256 == mono2.sha256  # same stored values: inversion is display, not data
    total = mono1.staged.astype(int) + mono2.staged.astype(int)
    assert np.abs(total - 255).max() <= 1


def test_rg1_window_and_inversion_give_a_plausible_chest(shared_data: Path) -> None:
    staged = load(shared_data / "dicom/RG1_UNCR.dcm").staged[:, :241].astype(float)
    # MONOCHROME1 chest: lungs (upper middle) must come out darker than the mediastinum/spine.
    lungs = staged[60:140, 40:100].mean()
    spine = staged[60:140, 110:130].mean()
    assert lungs < spine


def test_extremity_is_rejected(shared_data: Path) -> None:
    with pytest.raises(Rejection) as caught:
        load(shared_data / "dicom/RG3_UNCR.dcm")
    assert caught.value.reason == Reason.NON_CHEST_BODY_PART


def test_truncated_file_is_rejected(shared_data: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "x.dcm"
    truncated.write_bytes((shared_data / "dicom/RG1_UNCR.dcm").read_bytes()[:2000])
    with pytest.raises(Rejection) as caught:
        load(truncated)
    assert caught.value.reason == Reason.TRUNCATED_FILE
    assert str(tmp_path) not in caught.value.detail


def test_not_a_dicom_file_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.dcm"
    bogus.write_text("hello")
    with pytest.raises(Rejection) as caught:
        load(bogus)
    assert caught.value.reason == Reason.UNREADABLE_FILE


def test_flags_for_missing_spacing_and_estimated_window(shared_data: Path) -> None:
    assert Flag.PIXEL_SPACING_MISSING in load(shared_data / "dicom/RG1_UNCR.dcm").flags
    siim = load(shared_data / "dicom/siim_pneumothorax_sample.dcm")
    assert {Flag.VOI_ESTIMATED, Flag.LOSSY_COMPRESSED} <= set(siim.flags)
    assert siim.pixel_spacing == pytest.approx((0.168, 0.168))
