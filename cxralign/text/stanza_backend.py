"""The stanza backend: stanza's ``mimic`` tokenizer and ``radiology`` NER decide which spans are
entities; the rule lexicon normalises them and the rule cues decide existence.

Stanza's radiology NER tags ANATOMY, ANATOMY_MODIFIER, OBSERVATION, OBSERVATION_MODIFIER and
UNCERTAINTY, but not negation, and its observations are free text ("patchy opacity", "volume
loss"). So each entity's text is scanned with the rule lexicon: an OBSERVATION yields the finding
(or attribute) phrases inside it, an ANATOMY(+MODIFIER) the anatomy phrases (a modifier such as
"left" is a side word), an UNCERTAINTY entity an uncertainty cue. Entities the lexicon cannot
normalise are outside the vocabulary and dropped. Negation, pseudo-negation and scope cues come
from the rule matcher over the whole sentence, and :func:`cxralign.text.triplets.resolve` turns
the merged mentions into triplets exactly as the rule backend does.

Models are never downloaded implicitly (``download_method=None``): offline, a missing model is a
clear error, not a hang.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cxralign.text.cues import UNCERTAINTY, Cue
from cxralign.text.lexicon import ANATOMY, ATTRIBUTE, FINDING
from cxralign.text.matcher import Entry, Mention
from cxralign.text.triplets import RuleParser, Triplet, resolve

if TYPE_CHECKING:
    from stanza.models.common.doc import Document

# Files (relative to the resources directory) the radiology pipeline needs.
REQUIRED_MODELS: Final = ("resources.json", "en/tokenize/mimic.pt", "en/ner/radiology.pt")
_KEEP: Final[dict[str, frozenset[str]]] = {
    "OBSERVATION": frozenset({FINDING, ATTRIBUTE}),
    "OBSERVATION_MODIFIER": frozenset({ATTRIBUTE, FINDING}),
    "ANATOMY": frozenset({ANATOMY}),
    "ANATOMY_MODIFIER": frozenset({ANATOMY}),
}
_UNCERTAIN_ENTITY: Final = Entry("cue", Cue(UNCERTAINTY, "pre"))


def resources_dir() -> Path:
    """Where stanza looks for models: ``$STANZA_RESOURCES_DIR`` or stanza's default."""
    configured = os.environ.get("STANZA_RESOURCES_DIR")
    if configured:
        return Path(configured)
    from stanza.resources.common import DEFAULT_MODEL_DIR

    return Path(DEFAULT_MODEL_DIR)


def models_available(directory: Path | None = None) -> bool:
    """True when the mimic tokenizer and radiology NER models are installed."""
    directory = directory or resources_dir()
    return all((directory / name).is_file() for name in REQUIRED_MODELS)


def entity_mentions(text: str, document: Document, rules: RuleParser) -> list[Mention]:
    """Mentions of ``text`` from stanza entities (normalised by the lexicon) plus the rule cues.

    Entity offsets are taken relative to ``text``, which must be the text stanza processed.
    """
    cues = [m for m in rules.scan(text) if m.entry.kind == "cue"]
    mentions = list(cues)
    for entity in document.ents:
        start, end = entity.start_char, entity.end_char
        if entity.type == "UNCERTAINTY":
            if not any(c.start < end and start < c.end for c in cues):
                mentions.append(Mention(start, end, _UNCERTAIN_ENTITY))
            continue
        keep = _KEEP.get(entity.type)
        if keep is None:
            continue
        for inner in rules.scan(text[start:end]):
            if inner.entry.kind in keep:
                mentions.append(Mention(start + inner.start, start + inner.end, inner.entry))
    mentions.sort(key=lambda m: (m.start, m.end))
    return mentions


class StanzaParser:
    """Triplet parser over stanza's radiology NER; ``nlp`` maps a sentence to a Document."""

    backend_name: Final = "stanza"

    def __init__(self, nlp: Callable[[str], Document]) -> None:
        self._nlp = nlp
        self._rules = RuleParser()

    @classmethod
    def from_installed_models(cls) -> StanzaParser:
        """Load the installed mimic/radiology pipeline; raise RuntimeError when it is missing."""
        directory = resources_dir()
        if not models_available(directory):
            missing = [n for n in REQUIRED_MODELS if not (directory / n).is_file()]
            raise RuntimeError(
                f"stanza backend needs the mimic tokenizer and radiology NER models in "
                f"{directory} (set STANZA_RESOURCES_DIR); missing: {', '.join(missing)}. "
                "Install them with stanza.download('en', package='mimic', "
                "processors={'ner': 'radiology'}) on a machine with internet access."
            )
        import stanza

        nlp = stanza.Pipeline(
            "en",
            dir=str(directory),
            package="mimic",
            processors={"tokenize": "mimic", "ner": "radiology"},
            download_method=None,
            logging_level="WARN",
        )
        return cls(nlp)

    def parse_document(self, text: str, document: Document) -> list[Triplet]:
        """Triplets of ``text`` given stanza's analysis of it."""
        return resolve(text, entity_mentions(text, document, self._rules))

    def parse(self, sentence: str) -> list[Triplet]:
        """The triplets of one sentence."""
        return self.parse_document(sentence, self._nlp(sentence))

    def parse_many(self, sentences: Sequence[str]) -> list[list[Triplet]]:
        """The triplets of each sentence."""
        return [self.parse(sentence) for sentence in sentences]
