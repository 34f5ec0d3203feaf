"""AdaMatch adaptive patches and patch–word matching: plain-grid known answers, gradients to
offsets/sizes and the head, hand-computed matching loss, masks, and the distributed run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cxralign.models.objectives.adaptive_patches import (
    AdaptivePatchExtractor,
    PatchWordMatchingLoss,
    patch_max_similarity,
    sample_patches,
    word_max_similarity,
)

torch.set_num_threads(1)


def _grid_cells(feature_map: torch.Tensor, cell: int) -> torch.Tensor:
    return F.avg_pool2d(feature_map, cell).flatten(2).transpose(1, 2)


def _plain(batch: int, patches: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(batch, patches, 2), torch.ones(batch, patches, 2)


def test_zero_offset_unit_size_reproduces_the_plain_grid_cells() -> None:
    torch.manual_seed(0)
    feature_map = torch.randn(2, 3, 8, 8)
    offsets, sizes = _plain(2, 16)
    sampled = sample_patches(feature_map, offsets, sizes, (4, 4), samples_per_side=2)
    assert sampled.shape == (2, 16, 3)
    assert torch.allclose(sampled, _grid_cells(feature_map, 2), atol=1e-6)


def test_extractor_starts_from_the_plain_grid() -> None:
    torch.manual_seed(0)
    feature_map = torch.randn(2, 3, 8, 8)
    patches = AdaptivePatchExtractor(channels=3, grid=(4, 4), samples_per_side=2)(feature_map)
    assert torch.allclose(patches.features, _grid_cells(feature_map, 2), atol=1e-6)
    assert torch.allclose(patches.offsets, torch.zeros(2, 16, 2))
    assert torch.allclose(patches.sizes, torch.ones(2, 16, 2))
    # cell (row 1, col 2) of a 4×4 grid spans x ∈ [0.5, 0.75], y ∈ [0.25, 0.5]
    assert torch.allclose(patches.boxes[0, 1 * 4 + 2], torch.tensor([0.5, 0.25, 0.75, 0.5]))


def test_one_cell_offset_reads_the_neighbour_and_zero_padding_outside() -> None:
    torch.manual_seed(0)
    feature_map = torch.randn(1, 2, 8, 8)
    offsets, sizes = _plain(1, 16)
    offsets[..., 0] = 1.0  # every patch moves one cell to the right
    sampled = sample_patches(feature_map, offsets, sizes, (4, 4), 2).reshape(1, 4, 4, 2)
    cells = _grid_cells(feature_map, 2).reshape(1, 4, 4, 2)
    assert torch.allclose(sampled[:, :, :3], cells[:, :, 1:], atol=1e-6)
    assert torch.allclose(sampled[:, :, 3], torch.zeros(1, 4, 2))


def test_double_size_averages_the_enlarged_window() -> None:
    torch.manual_seed(0)
    feature_map = torch.randn(1, 2, 8, 8)
    offsets, sizes = _plain(1, 16)
    sizes *= 2.0  # 4×4 pixels around each cell centre, 4 samples per side hit pixel centres
    sampled = sample_patches(feature_map, offsets, sizes, (4, 4), samples_per_side=4)
    expected = F.avg_pool2d(F.pad(feature_map, (1, 1, 1, 1)), 4, stride=2)
    assert torch.allclose(sampled, expected.flatten(2).transpose(1, 2), atol=1e-6)


def test_offsets_and_sizes_receive_gradients() -> None:
    torch.manual_seed(0)
    feature_map = torch.randn(2, 3, 8, 8, requires_grad=True)
    offsets = torch.full((2, 16, 2), 0.1, requires_grad=True)
    sizes = torch.full((2, 16, 2), 1.3, requires_grad=True)
    sampled = sample_patches(feature_map, offsets, sizes, (4, 4), 3)
    (sampled * torch.randn_like(sampled)).sum().backward()
    for tensor in (feature_map, offsets, sizes):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0
    assert (offsets.grad.abs().sum(dim=-1) > 0).all() and (sizes.grad.abs().sum(dim=-1) > 0).all()


def test_head_is_trained_by_the_matching_loss() -> None:
    torch.manual_seed(0)
    extractor = AdaptivePatchExtractor(channels=16, grid=(2, 2), samples_per_side=2, hidden=8)
    feature_map = torch.randn(3, 16, 4, 4)
    words = torch.randn(3, 5, 16)
    matching = PatchWordMatchingLoss(temperature=0.1, patch_to_word_weight=0.5)
    out = matching(extractor(feature_map).features, words, torch.ones(3, 5, dtype=torch.bool))
    out.loss.backward()
    assert extractor.head[-1].weight.grad.abs().sum() > 0
    assert extractor.head[-1].bias.grad.abs().sum() > 0


def _matching_example() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    patches = torch.stack([torch.stack([e1, e1]), torch.stack([e2, e2])])
    words = torch.stack([torch.stack([e1, torch.tensor([9.0, -3.0])]),
                         torch.stack([e2, (e1 + e2) / math.sqrt(2)])])
    mask = torch.tensor([[True, False], [True, True]])
    return patches, words, mask


def test_word_max_similarity_and_loss_known_answer() -> None:
    patches, words, mask = _matching_example()
    r = 1 / math.sqrt(2)
    expected_sim = torch.tensor([[1.0, r / 2], [0.0, (1 + r) / 2]])
    assert torch.allclose(word_max_similarity(patches, words, mask), expected_sim, atol=1e-6)
    out = PatchWordMatchingLoss(temperature=1.0, patch_to_word_weight=0.0)(patches, words, mask)
    s = expected_sim.tolist()

    def ce(logits: list[float], target: int) -> float:
        return -logits[target] + math.log(sum(math.exp(v) for v in logits))

    rows = ce(s[0], 0) + ce(s[1], 1)
    cols = ce([s[0][0], s[1][0]], 0) + ce([s[0][1], s[1][1]], 1)
    assert out.loss.item() == pytest.approx(0.5 * (rows / 2 + cols / 2), rel=1e-6)
    assert torch.allclose(out.similarity, expected_sim, atol=1e-6)


def test_patch_to_word_direction_known_answer() -> None:
    """Each patch picks its best valid word, averaged over patches; the loss mixes both ways."""
    patches, words, mask = _matching_example()
    r = 1 / math.sqrt(2)
    # image 0 (patches e1, e1): report 0's only word e1 -> 1; report 1's words e2, (e1+e2)/√2 -> r
    # image 1 (patches e2, e2): report 0 -> 0; report 1 -> 1
    expected = torch.tensor([[1.0, r], [0.0, 1.0]])
    assert torch.allclose(patch_max_similarity(patches, words, mask), expected, atol=1e-6)
    both = PatchWordMatchingLoss(temperature=1.0, patch_to_word_weight=0.5)(patches, words, mask)
    words_only = word_max_similarity(patches, words, mask)
    assert torch.allclose(both.similarity, 0.5 * (expected + words_only), atol=1e-6)
    with pytest.raises(ValueError, match="patch_to_word_weight"):
        PatchWordMatchingLoss(temperature=0.07, patch_to_word_weight=1.5)


def test_matching_gradients_reach_patches_and_words() -> None:
    torch.manual_seed(0)
    patches = torch.randn(4, 6, 8, requires_grad=True)
    words = torch.randn(4, 5, 8, requires_grad=True)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2, 3:] = False
    matching = PatchWordMatchingLoss(temperature=0.07, patch_to_word_weight=0.5, weight=0.5)
    loss = matching(patches, words, mask).loss
    assert loss.ndim == 0
    loss.backward()
    assert patches.grad.abs().sum() > 0 and words.grad.abs().sum() > 0
    assert torch.all(words.grad[2, 3:] == 0)  # padded words take no part


def _matching_rank(rank: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    patches, words = torch.randn(4, 3, 8), torch.randn(4, 5, 8)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2:, 3:] = False  # rank 1 tokenised shorter reports: it holds only T = 3
    rows = slice(2 * rank, 2 * rank + 2)
    local_patches = patches[rows].clone().requires_grad_(True)
    length = 5 if rank == 0 else 3
    local_words = words[rows, :length].clone().requires_grad_(True)
    matching = PatchWordMatchingLoss(temperature=0.2, patch_to_word_weight=0.5)
    loss = matching(local_patches, local_words, mask[rows, :length]).loss
    loss.backward()
    return {"loss": loss.detach(), "patch_grad": local_patches.grad,
            "word_grad": local_words.grad}


def test_distributed_loss_and_gradients_equal_the_single_process_run(on_two_gloo_ranks) -> None:
    ranks = on_two_gloo_ranks(_matching_rank)
    torch.manual_seed(0)
    patches = torch.randn(4, 3, 8).requires_grad_(True)
    words = torch.randn(4, 5, 8).requires_grad_(True)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2:, 3:] = False
    matching = PatchWordMatchingLoss(temperature=0.2, patch_to_word_weight=0.5)
    single = matching(patches, words, mask).loss
    single.backward()
    # DDP averages gradients over ranks: the mean rank loss is the single-process loss
    assert (ranks[0]["loss"] + ranks[1]["loss"]).item() / 2 == pytest.approx(single.item(),
                                                                            rel=1e-5)
    patch_grad = torch.cat([r["patch_grad"] for r in ranks]) / 2
    assert torch.allclose(patch_grad, patches.grad, atol=1e-6)
    assert torch.allclose(ranks[0]["word_grad"] / 2, words.grad[:2], atol=1e-6)
    assert torch.allclose(ranks[1]["word_grad"] / 2, words.grad[2:, :3], atol=1e-6)
