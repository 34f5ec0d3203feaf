"""Staged pixel arrays: ``<catalog root>/staged/arrays/<partition>/<generation>/shard-NNNNN.npy``.

Each shard is one ``(n, S, S)`` uint8 ``.npy`` file written whole by the worker that decoded
those images (``np.save`` to a temporary name, then an atomic rename), so a reader never sees a
partial shard and no pixels travel back to the parent process. ``.npy`` is memory-mappable:
a data loader touches only the pages of the images it reads. Geometry of each array is
described in ``preprocess`` (top-left anchored, one scale factor).

The generation is a digest of the inputs and settings: re-ingesting the same inputs rewrites
identical files at the same paths, while changed inputs go to a new generation folder, so the
tables in place keep pointing at the shards they were written with until the new tables
replace them; only then are other generations removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from cxralign.io.atomic import atomic_path
from cxralign.io.catalog import Catalog
from cxralign.io.locking import idle_generation
from cxralign.layout import ARRAYS_DIR as STAGED_ARRAYS_DIR
from cxralign.layout import arrays_dir

SHARD_PREFIX: Final = "shard-"


def shard_path(partition: str, generation: str, shard: int) -> str:
    """The shard's path relative to the catalog root (what ``images.staged_path`` holds)."""
    name = f"{SHARD_PREFIX}{shard:05d}.npy"
    return (STAGED_ARRAYS_DIR / partition / generation / name).as_posix()


def write_shard(catalog_root: Path, relative_path: str, arrays: np.ndarray) -> None:
    """Atomically write one shard; ``arrays`` is ``(n, S, S)`` uint8."""
    target = Path(catalog_root) / relative_path
    with atomic_path(target) as tmp:
        with tmp.open("wb") as handle:
            np.save(handle, np.ascontiguousarray(arrays, dtype=np.uint8), allow_pickle=False)


def generation_dir(catalog_root: Path, partition: str, generation: str) -> Path:
    return arrays_dir(catalog_root, partition) / generation


def remove_stale_shards(
    catalog_root: Path, partition: str, keep: set[str], own_generation: str
) -> None:
    """Delete files of ``partition``'s shard generations that the current ``images`` table
    does not reference, skipping generations an unfinished run holds (see ``locking``).

    In the caller's own generation only finished, unreferenced shards go (rows rejected after
    staging, e.g. duplicates): a concurrent run of the same generation references exactly
    the same shards, but may still be renaming its temporary files into place.
    Call it under the catalog lock, right after the ``images`` table was committed.
    """
    directory = arrays_dir(catalog_root, partition)
    generations = sorted(p for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []
    for generation in generations:
        stale = [
            path for path in generation.iterdir()
            if path.relative_to(catalog_root).as_posix() not in keep
        ]
        if generation.name == own_generation:
            for path in stale:
                if path.name.startswith(SHARD_PREFIX):
                    path.unlink(missing_ok=True)
            continue
        if not stale:
            continue
        with idle_generation(generation) as idle:
            if not idle:
                continue
            for path in stale:
                path.unlink(missing_ok=True)
            if not any(generation.iterdir()):
                generation.rmdir()


def open_staged(catalog_root: Path, staged_path: str, staged_index: int) -> np.ndarray:
    """One staged image (``S x S`` uint8) by its ``images`` row, read through a memory map."""
    shard = np.load(Path(catalog_root) / staged_path, mmap_mode="r", allow_pickle=False)
    return np.array(shard[staged_index])


class StagedImages:
    """Random access to staged images for a data loader: ``len()``, ``[i] -> (S, S) uint8``.

    Shards are memory-mapped lazily, per process, so the object can be handed to forked or
    spawned data-loader workers before any file is opened.
    """

    def __init__(
        self, catalog_root: Path, staged_paths: Sequence[str], staged_indices: Sequence[int]
    ) -> None:
        if len(staged_paths) != len(staged_indices):
            raise ValueError("staged_paths and staged_indices must have the same length")
        self.catalog_root = Path(catalog_root)
        self.staged_paths = list(staged_paths)
        self.staged_indices = [int(i) for i in staged_indices]
        self._shards: dict[str, np.ndarray] = {}

    @classmethod
    def from_catalog(cls, catalog: Catalog, partitions: list[str] | None = None) -> StagedImages:
        """All staged images of the ``images`` table (optionally some partitions), in row order."""
        table = catalog.read_table("images", partitions).select(["staged_path", "staged_index"])
        paths, indices = table["staged_path"].to_pylist(), table["staged_index"].to_pylist()
        return cls(catalog.root, paths, indices)

    def __len__(self) -> int:
        return len(self.staged_paths)

    def __getitem__(self, index: int) -> np.ndarray:
        path = self.staged_paths[index]
        shard = self._shards.get(path)
        if shard is None:
            shard = np.load(self.catalog_root / path, mmap_mode="r", allow_pickle=False)
            self._shards[path] = shard
        return np.array(shard[self.staged_indices[index]])

    def __getstate__(self) -> dict[str, object]:
        # Memory maps are per process: a pickled copy re-opens its own.
        return {**self.__dict__, "_shards": {}}
