"""Image encoder: one channel in, a spatial map out for CNNs and ViTs; local weight files."""

from __future__ import annotations

import pytest
import timm
import torch

from cxralign.models.image_encoder import ImageEncoder, create_image_backbone


def test_cnn_gives_stride_32_map_and_average_pool() -> None:
    encoder = ImageEncoder(create_image_backbone("resnet18", 64)).eval()
    with torch.no_grad():
        output = encoder(torch.randn(2, 1, 64, 64))
    assert output.feature_map.shape == (2, 512, 2, 2)
    assert torch.allclose(output.pooled, output.feature_map.mean(dim=(2, 3)), atol=1e-6)


def test_vit_tokens_are_put_back_on_their_grid() -> None:
    backbone = create_image_backbone("vit_tiny_patch16_224", 64)
    encoder = ImageEncoder(backbone).eval()
    images = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        output = encoder(images)
        tokens = backbone.forward_features(images)
    assert output.feature_map.shape == (2, 192, 4, 4)
    # patch (row 1, column 2) is token 1 (class token) + 1·4 + 2
    assert torch.allclose(output.feature_map[:, :, 1, 2], tokens[:, 1 + 4 + 2])
    assert torch.allclose(output.pooled, tokens[:, 0])  # class-token pooling


def test_local_rgb_weights_are_summed_into_the_grey_stem(tmp_path) -> None:
    source = timm.create_model("resnet10t", num_classes=0)  # a 3-channel "ImageNet" model
    weights = tmp_path / "resnet10t.pth"
    torch.save(source.state_dict(), weights)
    loaded = create_image_backbone("resnet10t", 64, weights_path=str(weights)).state_dict()
    stem = "conv1.0.weight"
    assert loaded[stem].shape[1] == 1
    assert torch.allclose(loaded[stem], source.state_dict()[stem].sum(dim=1, keepdim=True))
    deep = "layer4.0.conv1.weight"
    assert torch.equal(loaded[deep], source.state_dict()[deep])
    with pytest.raises(FileNotFoundError):
        create_image_backbone("resnet10t", 64, weights_path=str(tmp_path / "missing.pth"))
