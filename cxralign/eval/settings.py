"""Evaluation configuration: one source of truth for the ``evaluate`` CLI, the library and the
Dagster asset config (which subclasses it, so only plain field types are used)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from cxralign.generate.settings import GeneratorSettings
from cxralign.io.secret_key import KEY_ENV_VAR

DEFAULT_SEGMENTATION_DIR = "../shared/data/covid_lung_boxes"


class EvaluationSettings(BaseModel):
    """How pre-trained encoders are compared downstream.

    Defaults are sized so the phantom comparison (a few hundred studies, several model seeds)
    runs on a shared CPU in minutes; paper-scale values are noted per field.
    """

    recipes: list[str] = Field(
        default=["asg", "convirt"],
        description="Recipes whose model directories <data>/models/pretrain/<recipe>/seed-<k>/ "
        "the asset evaluates (the CLI takes --model directories instead). The first is the "
        "primary recipe that the verdict compares against every other row.",
    )
    random_init: bool = Field(
        default=True,
        description="Also evaluate the primary recipe's architecture with no pre-training (the "
        "lower bound every pre-training objective has to beat) and, when it starts from an "
        "anatomy detector, that start (detector-start: the detector's backbone, untrained heads).",
    )
    random_init_seeds: list[int] = Field(
        default=[0], description="Initialisation seeds of the random-init baseline: one, like "
        "the demo's one seed per recipe; evaluations over several model seeds pass as many "
        "(make demo-full, benchmarks/evaluation.py).",
    )
    split: str = Field(default="test", description="images.split evaluated (held out).")
    train_split: str = Field(
        default="train",
        description="images.split whose labels and reports the probe and report generation use.",
    )
    retrieval_ks: list[int] = Field(default=[1, 5, 10], description="Recall@k cut-offs.")
    positive_prompts: list[str] = Field(
        default=["There is {finding}.", "{finding} is present.", "Findings of {finding}."],
        description="Zero-shot prompt ensemble for a present finding ({finding} filled in; "
        "the templates' embeddings are averaged).",
    )
    negative_prompts: list[str] = Field(
        default=["No {finding}.", "There is no {finding}.", "No evidence of {finding}."],
        description="Zero-shot prompt ensemble for an absent finding.",
    )
    ground_truth_dirs: list[str] = Field(
        default=[],
        description="Phantom ground_truth/ folders whose drawn findings label the images for "
        "probing and zero-shot (empty: look beside the catalog, see cxralign.eval.truth); "
        "parser labels are used where none covers a split.",
    )
    deid_key_env: str = Field(
        default=KEY_ENV_VAR,
        description="Environment variable holding the pseudonymisation key the catalog was "
        "ingested with (joins ground truth, keyed by raw UIDs, to image ids).",
    )
    uncertain: str = Field(
        default="ignore", pattern="^(ignore|positive|negative)$",
        description="How a study whose report only hedges a finding ('possible effusion') is "
        "labelled for zero-shot and probing: left out of that finding's AUC (ignore, the "
        "default: the report does not say), or counted as positive / negative (CheXpert's "
        "U-ones / U-zeros).",
    )
    probe_fractions: list[float] = Field(
        default=[0.01, 0.1, 1.0], description="Shares of training labels the linear probe sees."
    )
    probe_seeds: list[int] = Field(
        default=[0, 1, 2],
        description="Label-subset seeds of the probe (mean ± std over them); 100 % of the "
        "labels is one subset, probed once with the first seed.",
    )
    probe_min_positives: int = Field(
        default=5, ge=1,
        description="A finding is probed only with at least this many positive training images "
        "(and both classes in the evaluated split).",
    )
    probe_c_grid: list[float] = Field(
        default=[0.001, 0.01, 0.1, 1.0], min_length=1,
        description="Inverse L2 strengths the probe chooses from per finding and subset by "
        "cross-validated AUC on the subset's training images (CLIP's protocol; one value = "
        "that C, fixed): a fixed C suits some encoders better than others.",
    )
    probe_cv_folds: int = Field(
        default=3, ge=2,
        description="Stratified folds choosing the probe's C (fewer when the rarer class of "
        "a subset has fewer images; the grid's middle value when it has one).",
    )
    probe_max_iter: int = Field(default=1000, ge=10, description="lbfgs iterations of the probe.")
    segmentation_dir: str = Field(
        default=DEFAULT_SEGMENTATION_DIR,
        description="Folder with images/ and lung_masks/ (same file names) and metadata.csv "
        "(patientid per filename); segmentation is skipped with a message when absent or empty.",
    )
    segmentation_min_grid: int = Field(
        default=7, ge=1,
        description="Smallest feature-map side (cells) Dice is computed from: coarser maps "
        "cannot outline a lung, so the score would measure upsampling, not the encoder.",
    )
    segmentation_epochs: int = Field(default=30, ge=1, description="Decoder training epochs.")
    segmentation_test_fraction: float = Field(
        default=0.3, gt=0, lt=1, description="Share of patients held out for the Dice score."
    )
    segmentation_lr: float = Field(default=3e-3, gt=0, description="Decoder Adam learning rate.")
    generation_epochs: float = Field(
        default=GeneratorSettings.model_fields["epochs"].default, ge=0,
        description="Training epochs of the region-guided report generator trained on each "
        "frozen model (cxralign.generate); 0 leaves the generator out (its nearest-neighbour and "
        "most-frequent baselines are still scored).")
    batch_size: int = Field(default=32, ge=1, description="Images / texts per encoder call.")
    examples: int = Field(default=4, ge=0, description="Retrieval examples drawn per recipe.")
    seed: int = Field(default=0, ge=0, description="Seed of split draws and decoder init.")

    @field_validator("probe_fractions")
    @classmethod
    def _fractions_in_unit_interval(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < f <= 1 for f in value):
            raise ValueError("probe fractions must lie in (0, 1]")
        return value

    @field_validator("positive_prompts", "negative_prompts")
    @classmethod
    def _templates_name_the_finding(cls, value: list[str]) -> list[str]:
        if not value or any("{finding}" not in template for template in value):
            raise ValueError("each prompt template must contain {finding}")
        return value

    @field_validator("retrieval_ks")
    @classmethod
    def _positive_ks(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 for k in value):
            raise ValueError("retrieval cut-offs must be >= 1")
        return sorted(set(value))
