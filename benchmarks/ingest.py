"""Ingestion throughput: cxralign ``ingest`` vs MONAI vs a plain pydicom+Pillow loop.

Every peer turns the same real DICOM files into 256x256 arrays, in a fresh Python process per
run, timed from process start to exit (imports and pool start-up included):

- cxralign: ``ingest`` (VOI LUT, MONOCHROME1, de-identification, hashing, shards, tables);
- MONAI: ``LoadImage(reader=PydicomReader)`` + ``ScaleIntensity`` + ``Resize`` (longest side);
- plain: ``pydicom.dcmread().pixel_array`` -> min/max to uint8 -> Pillow resize (longest side).

Peers with N workers use a process pool of N. Then: JPEG 2000 decoding plugins on RG1_J2KR,
and ``StagedImages`` read throughput. Run: ``python benchmarks/ingest.py [--copies 150]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
SHARED = HERE.parent.parent / "shared" / "data" / "dicom"
SOURCES = ("RG1_UNCR.dcm", "siim_pneumothorax_sample.dcm")
SIZE = 256


def prepare(copies: int) -> Path:
    """``copies`` distinct instances of each source file (fresh UIDs/IDs), in one folder."""
    import pydicom
    from pydicom.uid import generate_uid

    target = WORK / f"dicoms-{copies}"
    if target.is_dir() and len(list(target.glob("*.dcm"))) == copies * len(SOURCES):
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for source in SOURCES:
        dataset = pydicom.dcmread(SHARED / source)
        for i in range(copies):
            seed = [source, str(i)]
            dataset.SOPInstanceUID = generate_uid(entropy_srcs=[*seed, "sop"])
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
            dataset.StudyInstanceUID = generate_uid(entropy_srcs=[*seed, "study"])
            dataset.PatientID = f"BENCH{i:05d}{source[:3]}"
            dataset.save_as(target / f"{Path(source).stem}-{i:05d}.dcm")
    return target


# ---- peers (each runs in its own process, see ``main``) -------------------------------------


def _plain_one(path: str) -> np.ndarray:
    import pydicom
    from PIL import Image

    pixels = pydicom.dcmread(path).pixel_array.astype(np.float32)
    pixels = (pixels - pixels.min()) / max(float(pixels.max() - pixels.min()), 1e-6)
    image = Image.fromarray((pixels * 255).astype(np.uint8))
    scale = SIZE / max(image.size)
    return np.asarray(image.resize((round(image.width * scale), round(image.height * scale))))


_MONAI = None


def _monai_one(path: str) -> np.ndarray:
    global _MONAI
    if _MONAI is None:
        from monai.data import PydicomReader
        from monai.transforms import Compose, EnsureChannelFirst, LoadImage, Resize, ScaleIntensity

        _MONAI = Compose([
            LoadImage(reader=PydicomReader(), image_only=True), EnsureChannelFirst(),
            ScaleIntensity(), Resize(spatial_size=SIZE, size_mode="longest"),
        ])
    return np.asarray(_MONAI(path))


def run_peer(peer: str, folder: Path, workers: int) -> int:
    files = sorted(str(p) for p in folder.glob("*.dcm"))
    if peer == "cxralign":
        from cxralign.io.catalog import Catalog
        from cxralign.io.ingest import IngestSettings, ingest

        with tempfile.TemporaryDirectory(dir=WORK) as out:
            settings = IngestSettings(workers=workers, staged_size=SIZE)
            return ingest(folder, Catalog(Path(out)), settings).images
    one = {"plain": _plain_one, "monai": _monai_one}[peer]
    if workers == 1:
        return sum(1 for path in files if one(path).size)
    with Pool(workers) as pool:
        return sum(1 for array in pool.imap(one, files, chunksize=8) if array.size)


def timed_process(peer: str, folder: Path, workers: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "CXRALIGN_DEID_KEY": "benchmark"}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--peer", peer, "--folder", str(folder),
         "--workers", str(workers)],
        check=True, capture_output=True, text=True, env=env,
    )
    seconds = time.perf_counter() - started
    images = int(out.stdout.strip().splitlines()[-1])
    return {"peer": peer, "workers": workers, "images": images, "seconds": seconds,
            "images_per_second": images / seconds}


# ---- in-process measurements --------------------------------------------------------------


def jpeg2000_decoders(repeats: int = 3) -> dict[str, float]:
    import pydicom
    from pydicom.pixels import pixel_array
    from pydicom.pixels.decoders import JPEG2000LosslessDecoder

    dataset = pydicom.dcmread(SHARED / "RG1_J2KR.dcm")
    reference = pydicom.dcmread(SHARED / "RG1_UNCR.dcm").pixel_array
    seconds = {}
    for plugin in JPEG2000LosslessDecoder.available_plugins:
        decoded = pixel_array(dataset, decoding_plugin=plugin)
        assert np.array_equal(decoded, reference), plugin
        started = time.perf_counter()
        for _ in range(repeats):
            pixel_array(dataset, decoding_plugin=plugin)
        seconds[plugin] = (time.perf_counter() - started) / repeats
    return seconds


def staged_read(folder: Path) -> dict[str, float]:
    from cxralign.io.catalog import Catalog
    from cxralign.io.ingest import IngestSettings, ingest
    from cxralign.io.staging import StagedImages

    with tempfile.TemporaryDirectory(dir=WORK) as out:
        catalog = Catalog(Path(out))
        ingest(folder, catalog, IngestSettings(workers=0, staged_size=SIZE))
        staged = StagedImages.from_catalog(catalog)
        order = np.random.default_rng(0).permutation(len(staged))
        started = time.perf_counter()
        for _ in range(5):
            for i in order:
                staged[int(i)]
        random_access = 5 * len(staged) / (time.perf_counter() - started)

        from torch.utils.data import DataLoader

        loader = DataLoader(
            staged, batch_size=64, shuffle=True, num_workers=2, persistent_workers=True
        )
        sum(batch.shape[0] for batch in loader)  # start the workers
        started = time.perf_counter()
        count = sum(batch.shape[0] for _ in range(20) for batch in loader)
        torch_rate = count / (time.perf_counter() - started)
    return {"random_getitem": random_access, "torch_dataloader_2_workers": torch_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=150, help="copies of each source file")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:  # child process: one timed run
        print(run_peer(args.peer, args.folder, args.workers[0]))
        return

    WORK.mkdir(exist_ok=True)
    folders = {"RG1 CR 1955x1841 15-bit + SIIM JPEG 1024^2": prepare(args.copies)}
    rg1_only = WORK / f"rg1-{args.copies}"
    if not rg1_only.is_dir():
        rg1_only.mkdir()
        for path in sorted(folders["RG1 CR 1955x1841 15-bit + SIIM JPEG 1024^2"].glob("RG1_*.dcm")):
            os.link(path, rg1_only / path.name)
    folders["RG1 CR only"] = rg1_only

    results = []
    for label, folder in folders.items():
        for workers in args.workers:
            for peer in ("plain", "monai", "cxralign"):
                row = timed_process(peer, folder, workers)
                row["set"] = label
                results.append(row)
                print(json.dumps(row), flush=True)
    print("| set | workers | plain img/s | MONAI img/s | cxralign img/s | cxralign/MONAI "
          "| plain time / cxralign time |")
    print("|---|---|---|---|---|---|---|")
    for label in folders:
        for workers in args.workers:
            rate = {r["peer"]: r["images_per_second"] for r in results
                    if r["set"] == label and r["workers"] == workers}
            print(f"| {label} | {workers} | {rate['plain']:.1f} | {rate['monai']:.1f} | "
                  f"{rate['cxralign']:.1f} | {rate['cxralign'] / rate['monai']:.2f}x | "
                  f"{rate['cxralign'] / rate['plain']:.2f} |")
    print("\nJPEG 2000 lossless (RG1_J2KR) decode seconds per image:",
          json.dumps({k: round(v, 3) for k, v in jpeg2000_decoders().items()}))
    print("StagedImages read images/s:",
          json.dumps({k: round(v) for k, v in staged_read(folders["RG1 CR only"]).items()}))


if __name__ == "__main__":
    main()
