"""The selection head and decoder on the phantom catalog's cached features: training lowers
the loss, greedy decoding stops at [SEP] or at the length limit, a saved generator reloads
to the same reports, and the keyword head learns the reports' findings."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from cxralign.generate.data import SLOTS, encode_slots, slot_sentences
from cxralign.generate.generator import ReportGenerator
from cxralign.generate.model import RegionSentenceGenerator, TransformerSentenceDecoder
from cxralign.generate.settings import GeneratorSettings
from cxralign.generate.tokens import sentence_ids
from cxralign.generate.train import keyword_targets, train_network
from cxralign.models.model import AlignmentModel
from cxralign.models.wordpiece import train_wordpiece_tokenizer
from cxralign.text.pipeline import load_parser


@pytest.fixture(scope="module")
def encoded(gen_catalog, encoder_dir):
    return encode_slots(AlignmentModel.load(encoder_dir), gen_catalog, "train", 16)


def test_every_image_has_its_global_slot_and_paired_targets(encoded, gen_catalog):
    assert encoded.mask[:, -1].all()
    assert encoded.mask[:, :-1].any(dim=1).all()  # gold boxes for every image
    targets = slot_sentences(gen_catalog.read_table("pairs"), gen_catalog.read_table("sentences"),
                             encoded.image_ids)
    assert sum(map(len, targets)) > len(targets)  # several region sentences per report
    assert all(encoded.mask[row, slot] for row, found in enumerate(targets) for slot in found)


def test_training_lowers_the_loss(encoded, gen_catalog, tmp_path):
    targets = slot_sentences(gen_catalog.read_table("pairs"), gen_catalog.read_table("sentences"),
                             encoded.image_ids)
    tokenizer = train_wordpiece_tokenizer(encoded.references, 200, tmp_path / "tok")
    settings = GeneratorSettings(steps=40, batch_images=8, width=32, heads=2, layers=1)
    ids = [{slot: sentence_ids(tokenizer, text, settings.max_tokens)
            for slot, text in found.items()} for found in targets]
    assert ids[0][next(iter(ids[0]))] == tokenizer(targets[0][next(iter(targets[0]))],
                                                   truncation=True, max_length=32)["input_ids"]
    decoder = TransformerSentenceDecoder(len(tokenizer), settings)
    _, losses = train_network(encoded, ids, decoder, tokenizer.pad_token_id, settings)
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.75 * sum(losses[:5]) / 5


def _network(max_tokens: int) -> RegionSentenceGenerator:
    torch.manual_seed(0)
    settings = GeneratorSettings(width=16, heads=2, layers=1, max_tokens=max_tokens)
    return RegionSentenceGenerator(8, len(SLOTS), settings,
                                   TransformerSentenceDecoder(20, settings)).eval()


def _memory(network: RegionSentenceGenerator, count: int) -> torch.Tensor:
    return network.memory(torch.randn(count, 8), torch.randn(count, 8),
                          torch.arange(count) % len(SLOTS))


def test_greedy_decoding_respects_the_length_limit():
    network = _network(max_tokens=6)
    with torch.no_grad():
        network.decoder.out[1].bias.fill_(0)
        network.decoder.out[1].bias[7] = 100.0  # token 7 always wins: [SEP] (3) is never written
    sequences = network.decoder.greedy(_memory(network, 5), bos=2, eos=3)
    assert [len(s) for s in sequences] == [5] * 5  # [CLS] + 5 tokens = max_tokens
    assert all(set(s) == {7} for s in sequences)


def test_greedy_decoding_stops_at_sep():
    network = _network(max_tokens=30)
    with torch.no_grad():
        network.decoder.out[1].bias.fill_(0)
        network.decoder.out[1].bias[3] = 100.0
    assert network.decoder.greedy(_memory(network, 4), bos=2, eos=3) == [[], [], [], []]


def test_saved_generator_reloads_to_the_same_reports(generator_dir, gen_catalog, encoder_dir):
    loaded = ReportGenerator.load(generator_dir)
    test = encode_slots(AlignmentModel.load(encoder_dir), gen_catalog, "test", 16)
    reports = loaded.reports(test)
    assert reports == ReportGenerator.load(generator_dir).reports(test)
    assert len(reports) == len(test.image_ids) and all(reports)
    assert all(len(s) for found in loaded.sentences(test) for s in [found])
    assert loaded.threshold == 0.01 and loaded.encoder_dir == str(encoder_dir.resolve())


def test_keyword_head_learns_the_report_findings_and_adds_a_memory_token(encoded, gen_catalog,
                                                                         tmp_path):
    targets = slot_sentences(gen_catalog.read_table("pairs"), gen_catalog.read_table("sentences"),
                             encoded.image_ids)
    tokenizer = train_wordpiece_tokenizer(encoded.references, 200, tmp_path / "tok")
    settings = GeneratorSettings(steps=40, batch_images=8, width=32, heads=2, layers=1,
                                 keywords=True)
    ids = [{slot: sentence_ids(tokenizer, text, settings.max_tokens)
            for slot, text in found.items()} for found in targets]
    keywords = keyword_targets(encoded.references, load_parser("rules"))
    assert 0 < keywords.sum() < keywords.numel()  # the fixture's reports state findings

    def keyword_loss(network: RegionSentenceGenerator) -> float:
        with torch.no_grad():
            logits = network.keyword_logits(encoded.features[:, -1])
        return F.binary_cross_entropy_with_logits(logits, keywords).item()

    torch.manual_seed(settings.seed)
    untrained = RegionSentenceGenerator(encoded.features.shape[-1], len(SLOTS), settings,
                                        TransformerSentenceDecoder(len(tokenizer), settings))
    with pytest.raises(ValueError, match="keyword targets"):
        train_network(encoded, ids, TransformerSentenceDecoder(len(tokenizer), settings),
                      tokenizer.pad_token_id, settings)
    network, _ = train_network(encoded, ids, TransformerSentenceDecoder(len(tokenizer), settings),
                               tokenizer.pad_token_id, settings, keywords=keywords)
    assert keyword_loss(network) < 0.7 * keyword_loss(untrained)
    rows, slots = torch.tensor([0, 0, 1]), torch.tensor([0, len(SLOTS) - 1, 3])
    memory = network.memory(encoded.features[rows, slots], encoded.features[rows, -1], slots)
    assert memory.shape == (3, 4, 32)
    assert torch.allclose(memory[0, 3], memory[1, 3])  # one image, one keyword token
    assert not torch.allclose(memory[0, 3], memory[2, 3])
    plain = _network(max_tokens=8)
    assert plain.memory(torch.randn(2, 8), torch.randn(2, 8), torch.arange(2)).shape[1] == 3
