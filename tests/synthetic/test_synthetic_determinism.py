"""Same (studies, seed) gives the same bytes, however many worker processes write them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cxralign.synthetic import synthesize


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def test_identical_bytes_whatever_the_number_of_workers(tmp_path: Path) -> None:
    # Seed 7 draws all three transfer syntaxes within 8 studies (a precondition, checked below).
    serial = synthesize(tmp_path / "serial", 8, seed=7, workers=1)
    parallel = synthesize(tmp_path / "parallel", 8, seed=7, workers=2)
    assert len(serial.transfer_syntaxes) == 3  # the compressed encoders are covered too
    assert digests(tmp_path / "serial") == digests(tmp_path / "parallel")
    assert serial.transfer_syntaxes == parallel.transfer_syntaxes
    names = digests(tmp_path / "serial")
    assert not any(name.startswith(".") or name.endswith(".tmp") for name in names)


def test_another_seed_gives_other_studies(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", 3, seed=1, workers=1)
    synthesize(tmp_path / "b", 3, seed=2, workers=1)
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert set(a) - set(b) == {name for name in a if name.startswith("files/")}
    assert not set(a.values()) & set(b.values())


def test_a_smaller_dataset_is_a_prefix_of_a_larger_one(tmp_path: Path) -> None:
    synthesize(tmp_path / "small", 3, seed=5, workers=1)
    synthesize(tmp_path / "large", 6, seed=5, workers=1)
    small = {k: v for k, v in digests(tmp_path / "small").items() if k.startswith("files/")}
    large = digests(tmp_path / "large")
    assert small and all(large.get(name) == digest for name, digest in small.items())
