"""A trained report generator as one object and one directory.

Directory (``save``): ``generator.json`` (settings, feature width, the pre-trained encoder
directory it is conditioned on, the normal-study impression, training losses), ``generator.pt``
(the network's state dict) and either ``tokenizer/`` (the offline decoder's WordPiece
vocabulary learnt from the training reports, ``save_pretrained``) or ``language_model/`` (the
fine-tuned pretrained decoder and its tokenizer, ``save_pretrained``; its weights are not
repeated in ``generator.pt``), so the directory loads without the model it started from.
``generator.json`` is written last, so its presence marks a complete generator.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from cxralign.eval.clinical import clinical_metrics, report_labels
from cxralign.generate.assemble import assemble_report, most_frequent_normal_impression
from cxralign.generate.data import SLOTS, SlotFeatures, slot_sentences
from cxralign.generate.language_model import (
    LANGUAGE_MODEL_DIR,
    LanguageModelDecoder,
    language_model_decoder,
)
from cxralign.generate.model import (
    RegionSentenceGenerator,
    SentenceDecoder,
    TransformerSentenceDecoder,
)
from cxralign.generate.settings import GeneratorSettings
from cxralign.generate.tokens import sentence_boundaries, sentence_ids
from cxralign.generate.train import keyword_targets, slot_memory, train_network
from cxralign.io.atomic import atomic_path, save_torch_atomically
from cxralign.io.catalog import Catalog
from cxralign.models.wordpiece import train_wordpiece_tokenizer
from cxralign.progress import Emit
from cxralign.text.pipeline import TripletParser, load_parser

CONFIG_FILE: Final = "generator.json"
WEIGHTS_FILE: Final = "generator.pt"
TOKENIZER_DIR: Final = "tokenizer"


@dataclass(frozen=True)
class SlotSentence:
    """One generated sentence: its slot (index into :data:`SLOTS`), text and the selection
    probability that chose it."""

    slot: int
    text: str
    probability: float

    @property
    def region(self) -> str:
        return SLOTS[self.slot]


@dataclass
class ReportGenerator:
    """The network, its tokenizer and what report assembly needs."""

    network: RegionSentenceGenerator
    tokenizer: PreTrainedTokenizerBase
    settings: GeneratorSettings
    encoder_dir: str
    normal_impression: str
    losses: list[float] = field(default_factory=list)
    parser: TripletParser = field(default_factory=lambda: load_parser("rules"))

    @property
    def threshold(self) -> float:
        """The selection threshold: the configured one, else the one chosen in training."""
        return self.settings.threshold if self.settings.threshold is not None else 0.5

    @torch.no_grad()
    def sentences(self, encoded: SlotFeatures, threshold: float | None = None
                  ) -> list[list[SlotSentence]]:
        """Per image, the sentences of the slots selected with probability above
        ``threshold`` (default :attr:`threshold`), in slot (anatomical) order."""
        rows, slots = encoded.mask.nonzero(as_tuple=True)
        memory = slot_memory(self.network, encoded.features, rows, slots)
        probability = torch.sigmoid(self.network.selection_logits(memory))
        chosen = probability > (self.threshold if threshold is None else threshold)
        decoded = self.network.decoder.greedy(memory[chosen],
                                              *sentence_boundaries(self.tokenizer))
        texts = self.tokenizer.batch_decode(decoded, skip_special_tokens=True)
        found: list[list[SlotSentence]] = [[] for _ in range(len(encoded.features))]
        for row, slot, p, text in zip(rows[chosen].tolist(), slots[chosen].tolist(),
                                      probability[chosen].tolist(), texts, strict=True):
            found[row].append(SlotSentence(slot, _sentence_case(text), p))
        return found

    def reports(self, encoded: SlotFeatures) -> list[str]:
        """One generated report per image of ``encoded``."""
        return self.assemble(self.sentences(encoded))

    def assemble(self, sentences: Sequence[Sequence[SlotSentence]]) -> list[str]:
        """Reports from per-image slot sentences."""
        return [assemble_report([s.text for s in found], self.parser, self.normal_impression)
                for found in sentences]

    def choose_threshold(self, validation: SlotFeatures) -> float:
        """Set and return the candidate threshold with the best clinical-efficacy micro-F1 of
        ``validation``'s reports (the highest on ties: fewer sentences). Slots are decoded once
        at the lowest candidate; a higher one only drops sentences."""
        candidates = sorted(self.settings.threshold_candidates)
        decoded = self.sentences(validation, candidates[0])
        reference = report_labels(validation.references, self.parser)
        scores = {}
        for threshold in candidates:
            kept = [[s for s in found if s.probability > threshold] for found in decoded]
            predicted = report_labels(self.assemble(kept), self.parser)
            scores[threshold] = clinical_metrics(predicted, reference)["ce_f1_micro"]
        best = max(candidates, key=lambda t: (scores[t], t))
        self.settings = self.settings.model_copy(update={"threshold": best})
        return best

    def save(self, directory: str | Path) -> Path:
        """Write the generator's files (module docstring) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        weights = self.network.state_dict()
        decoder = self.network.decoder
        if isinstance(decoder, LanguageModelDecoder):
            decoder.save(directory / LANGUAGE_MODEL_DIR, self.tokenizer)
            weights = {k: v for k, v in weights.items() if not k.startswith(_LANGUAGE_MODEL_KEYS)}
        elif not (directory / TOKENIZER_DIR).is_dir():
            self.tokenizer.save_pretrained(directory / TOKENIZER_DIR)
        save_torch_atomically(weights, directory / WEIGHTS_FILE)
        config = {"settings": self.settings.model_dump(), "encoder_dir": self.encoder_dir,
                  "feature_dim": self.network.feature_dim,
                  "normal_impression": self.normal_impression, "losses": self.losses}
        with atomic_path(directory / CONFIG_FILE) as tmp:
            tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ReportGenerator:
        """The generator :meth:`save` wrote to ``directory`` (on the CPU)."""
        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        settings = GeneratorSettings.model_validate(config["settings"])
        if settings.language_model is None:
            tokenizer = AutoTokenizer.from_pretrained(str(directory / TOKENIZER_DIR))
            decoder: SentenceDecoder = TransformerSentenceDecoder(len(tokenizer), settings)
        else:
            decoder, tokenizer = language_model_decoder(directory / LANGUAGE_MODEL_DIR, settings)
        network = RegionSentenceGenerator(config["feature_dim"], len(SLOTS), settings, decoder)
        missing, unexpected = network.load_state_dict(
            torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True),
            strict=False)
        missing = [k for k in missing if not k.startswith(_LANGUAGE_MODEL_KEYS)]
        if missing or unexpected:
            raise ValueError(f"{directory / WEIGHTS_FILE} does not fit its settings: missing "
                             f"{missing[:3]}, unexpected {unexpected[:3]}")
        return cls(network.eval(), tokenizer, settings, config["encoder_dir"],
                   config["normal_impression"], config.get("losses", []))


_LANGUAGE_MODEL_KEYS: Final = "decoder.model."
"""State-dict prefix of a pretrained decoder's own weights (saved with ``save_pretrained``)."""


def _sentence_case(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def fit_generator(
    train: SlotFeatures, catalog: Catalog, settings: GeneratorSettings, out_dir: str | Path,
    encoder_dir: str, progress: Emit | None = None,
) -> ReportGenerator:
    """Learn the vocabulary from the training reports (or load the configured language model),
    train the network on ``train`` and save the generator to ``out_dir``."""
    out_dir = Path(out_dir)
    order = torch.randperm(len(train.image_ids),
                           generator=torch.Generator().manual_seed(settings.seed)).tolist()
    held = round(len(order) * settings.validation_fraction) if settings.threshold is None else 0
    validation, train = train.subset(order[:held]), train.subset(order[held:])
    targets = slot_sentences(catalog.read_table("pairs"), catalog.read_table("sentences"),
                             train.image_ids)
    torch.manual_seed(settings.seed)
    if settings.language_model is None:
        tokenizer = train_wordpiece_tokenizer(train.references, settings.vocab_size,
                                              out_dir / TOKENIZER_DIR)
        decoder: SentenceDecoder = TransformerSentenceDecoder(len(tokenizer), settings)
    else:
        decoder, tokenizer = language_model_decoder(settings.language_model, settings)
    ids = [{slot: sentence_ids(tokenizer, text, settings.max_tokens)
            for slot, text in found.items()} for found in targets]
    parser = load_parser("rules")
    keywords = keyword_targets(train.references, parser) if settings.keywords else None
    network, losses = train_network(train, ids, decoder, tokenizer.pad_token_id, settings,
                                    progress, keywords)
    wanted = set(train.study_ids)
    sections = catalog.read_table("sections").select(["study_id", "impression"]).to_pydict()
    impressions = [i for s, i in zip(*sections.values(), strict=True) if s in wanted]
    generator = ReportGenerator(network, tokenizer, settings, str(encoder_dir),
                                most_frequent_normal_impression(impressions, parser), losses,
                                parser)
    if held:
        generator.choose_threshold(validation)
    generator.save(out_dir)
    return generator
