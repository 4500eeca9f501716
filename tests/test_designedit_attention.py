"""Key-masking self-attention processor (docs/method.md step 3)."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from layeredit.engine.designedit.attention import (
    KeyMaskController,
    KeyMaskedAttnProcessor,
    key_masking,
    token_grid,
)
from tests.tiny_models import tiny_unet


def _unet_inputs(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(batch, 4, 16, 12, generator=generator)
    embeds = torch.randn(batch, 8, 32, generator=generator)
    return latents, torch.tensor(500), embeds


def test_all_zero_mask_matches_stock_processor() -> None:
    torch.manual_seed(0)
    unet = tiny_unet(sdxl=False).eval()
    unet.set_attn_processor(AttnProcessor2_0())
    latents, timestep, embeds = _unet_inputs()
    with torch.no_grad():
        stock = unet(latents, timestep, encoder_hidden_states=embeds).sample
        controller = KeyMaskController()
        with key_masking(unet, controller):
            controller.set_masks(torch.zeros(2, 1, 16, 12))
            zero_masked = unet(latents, timestep, encoder_hidden_states=embeds).sample
            controller.set_masks(None)
            unmasked = unet(latents, timestep, encoder_hidden_states=embeds).sample
    assert (zero_masked - stock).abs().max() < 1e-5
    assert (unmasked - stock).abs().max() < 1e-5


def test_masked_tokens_change_no_key_of_the_masked_row() -> None:
    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8).eval()
    controller = KeyMaskController()
    attn.set_processor(KeyMaskedAttnProcessor(controller))
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, :, 2:5, 3:7] = 1.0  # row 0 is key-masked, row 1 is not; the mask is on the token grid
    controller.set_masks(mask)
    masked_tokens = mask[0, 0].flatten().bool()

    seen: dict[str, torch.Tensor] = {}
    attn.to_q.register_forward_hook(lambda _m, _i, out: seen.__setitem__("q", out.detach().clone()))
    attn.to_k.register_forward_hook(lambda _m, _i, out: seen.__setitem__("k", out.detach().clone()))

    def logits(hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            out = attn(hidden)
        return seen["q"] @ seen["k"].transpose(1, 2), out

    hidden = torch.randn(2, 64, 16, generator=torch.Generator().manual_seed(2))
    changed = hidden.clone()
    changed[:, masked_tokens] += torch.randn(2, int(masked_tokens.sum()), 16)
    before, out_before = logits(hidden)
    keys_before = seen["k"]
    after, out_after = logits(changed)

    assert torch.equal(seen["k"][0], keys_before[0])  # masked row: keys blind to the hole
    assert torch.equal(after[0][~masked_tokens], before[0][~masked_tokens])  # queries outside the hole
    assert not torch.equal(seen["k"][1], keys_before[1])  # the unmasked row does see the change
    assert not torch.equal(out_after[0], out_before[0])  # values are untouched, so outputs still move


def test_processors_are_restored_after_the_edit_even_on_error() -> None:
    unet = tiny_unet(sdxl=True)
    before = unet.attn_processors
    with pytest.raises(RuntimeError), key_masking(unet, KeyMaskController()):
        assert all(
            isinstance(p, KeyMaskedAttnProcessor) == name.endswith("attn1.processor")
            for name, p in unet.attn_processors.items()
        )
        raise RuntimeError("interrupted edit")
    after = unet.attn_processors
    assert all(after[name] is processor for name, processor in before.items())


def test_two_controllers_on_two_unets_do_not_interfere() -> None:
    first, second = tiny_unet(sdxl=False), tiny_unet(sdxl=False)
    a, b = KeyMaskController(), KeyMaskController()
    with key_masking(first, a), key_masking(second, b):
        a.set_masks(torch.ones(1, 1, 4, 4))
        assert b.row_masks is None
        masked = [p for n, p in second.attn_processors.items() if n.endswith("attn1.processor")]
        assert masked and all(p.controller is b for p in masked)


@pytest.mark.parametrize(
    ("latent", "tokens", "grid"), [((16, 12), 192, (16, 12)), ((16, 12), 48, (8, 6)), ((9, 7), 20, (5, 4))]
)
def test_token_grid_follows_unet_downsampling(latent, tokens, grid) -> None:
    assert token_grid(latent, tokens) == grid


def test_token_grid_rejects_unknown_sizes() -> None:
    with pytest.raises(ValueError, match="no UNet level"):
        token_grid((16, 16), 100)
