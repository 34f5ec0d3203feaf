"""The stanza backend's mapping, from a stanza Document built by hand (no model needed)."""

from __future__ import annotations

import pytest
from stanza.models.common.doc import Document

from cxralign.text.pipeline import load_parser
from cxralign.text.stanza_backend import StanzaParser, models_available

SENTENCE = "Possible left basilar opacity, no pleural effusion."
# (text, NER tag) per token; offsets are computed from SENTENCE.
TOKENS = [
    ("Possible", "S-UNCERTAINTY"), ("left", "B-ANATOMY"), ("basilar", "E-ANATOMY"),
    ("opacity", "S-OBSERVATION"), (",", "O"), ("no", "O"), ("pleural", "B-OBSERVATION"),
    ("effusion", "E-OBSERVATION"), (".", "O"),
]


def hand_built_document(text: str = SENTENCE) -> Document:
    words, position = [], 0
    for index, (token, tag) in enumerate(TOKENS, start=1):
        start = text.index(token, position)
        position = start + len(token)
        words.append({"id": index, "text": token, "ner": tag, "start_char": start, "end_char": position})
    return Document([words], text=text)


def test_entities_map_onto_triplets_with_rule_cues():
    parser = StanzaParser(nlp=lambda text: hand_built_document(text))
    got = {(t.region, t.finding, t.existence, t.cue) for t in parser.parse(SENTENCE)}
    assert got == {
        ("left lower lung zone", "opacity", "uncertain", "Possible"),
        ("unspecified", "pleural effusion", "absent", "no"),
    }
    assert parser.backend_name == "stanza"


def test_entities_outside_the_lexicon_are_dropped():
    text = "Possible left basilar opacity, no pleural effusion."
    document = hand_built_document(text)
    document.sentences[0].tokens[3].ner = "O"  # "opacity" is no longer an entity
    document.build_ents()
    got = {(t.finding, t.existence) for t in StanzaParser(nlp=lambda _: document).parse(text)}
    assert got == {("pleural effusion", "absent")}


def test_load_parser_picks_rules_offline_and_refuses_stanza_without_models(tmp_path, monkeypatch):
    monkeypatch.setenv("STANZA_RESOURCES_DIR", str(tmp_path))
    assert not models_available()
    assert load_parser("auto").backend_name == "rules"
    assert load_parser("rules").backend_name == "rules"
    with pytest.raises(RuntimeError, match="mimic tokenizer and radiology NER"):
        load_parser("stanza")
    with pytest.raises(ValueError, match="unknown triplet backend"):
        load_parser("spacy")
