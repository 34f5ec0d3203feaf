"""What the ``generate`` commands and the ``report_generator`` asset call: where generators
live, training one on a pre-trained encoder (with its held-out evaluation) and writing reports
with a saved one."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from cxralign.generate.data import encode_slots
from cxralign.generate.evaluation import GenerationEvaluation, evaluate_generation
from cxralign.generate.generator import CONFIG_FILE, ReportGenerator
from cxralign.generate.settings import GeneratorSettings
from cxralign.io.catalog import Catalog
from cxralign.layout import generator_run_dir, pretrain_run_dir
from cxralign.models.model import AlignmentModel
from cxralign.progress import Emit

DEFAULT_RECIPE: Final = "asg"


def default_encoder_dir(data: Path, recipe: str = DEFAULT_RECIPE, seed: int = 0) -> Path:
    """The pre-trained model a generator is conditioned on by default."""
    return pretrain_run_dir(data, recipe, seed)


def generator_dir(data: Path, encoder_dir: Path) -> Path:
    """``<data>/models/generate/<recipe>/<seed-k>/``: named after the encoder it reads."""
    return generator_run_dir(data, encoder_dir)


def is_generator_dir(path: Path) -> bool:
    """Whether ``path`` holds a complete saved generator."""
    return (Path(path) / CONFIG_FILE).is_file()


def train_generator(encoder_dir: Path, catalog: Catalog, settings: GeneratorSettings,
                    out_dir: Path, progress: Emit | None = None) -> GenerationEvaluation:
    """Train a generator on the frozen encoder in ``encoder_dir``, save it to ``out_dir`` and
    score it beside the baselines on the held-out split."""
    encoder = AlignmentModel.load(encoder_dir)
    return evaluate_generation(encoder, str(Path(encoder_dir).resolve()), catalog, settings,
                               out_dir, progress)


def generate_reports(directory: Path, catalog: Catalog, split: str | None = None,
                     limit: int | None = None) -> list[dict[str, str]]:
    """``{study_id, image_id, report}`` for the images of ``split`` (default: the one the
    generator was scored on), the first ``limit`` of them when given."""
    generator = ReportGenerator.load(directory)
    encoder = AlignmentModel.load(generator.encoder_dir)
    encoded = encode_slots(encoder, catalog, split or generator.settings.split,
                           generator.settings.batch_size)
    if limit is not None:
        encoded = encoded.subset(range(min(limit, len(encoded.image_ids))))
    return [{"study_id": s, "image_id": i, "report": r} for s, i, r in
            zip(encoded.study_ids, encoded.image_ids, generator.reports(encoded), strict=True)]
