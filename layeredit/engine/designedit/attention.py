"""Key-masking self-attention: DesignEdit's training-free inpainting (docs/method.md step 3).

For the batch rows flagged by the controller, every self-attention layer computes its keys from
``hidden_states * (1 - M)``, M the hole mask resized to the layer's token grid, so the hole's
tokens contribute zero keys (logit 0) and the queries inside the hole draw on the surroundings.
Queries and values are untouched. The processors are installed on one UNet for one edit by
:func:`key_masking` and the previous processors are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention


class KeyMaskController:
    """Which batch rows are key-masked, with which mask; shared by all processors of one edit.

    ``row_masks`` is ``(batch, 1, h, w)`` at latent resolution (zero rows are not masked) or None
    when no row is masked. Resized masks are cached per token grid for the current masks.
    """

    def __init__(self) -> None:
        self.row_masks: torch.Tensor | None = None
        self._by_grid: dict[tuple[int, int], torch.Tensor] = {}

    def set_masks(self, row_masks: torch.Tensor | None) -> None:
        if row_masks is not self.row_masks:
            self.row_masks = row_masks
            self._by_grid = {}

    def keep_factor(self, tokens: int, dtype: torch.dtype) -> torch.Tensor | None:
        """``1 - M`` as ``(batch, tokens, 1)`` for a layer with ``tokens`` tokens, or None."""
        if self.row_masks is None:
            return None
        grid = token_grid(tuple(self.row_masks.shape[-2:]), tokens)
        if grid not in self._by_grid:
            resized = F.interpolate(self.row_masks.float(), size=grid, mode="bilinear", align_corners=False)
            self._by_grid[grid] = (1.0 - resized).flatten(2).transpose(1, 2)
        return self._by_grid[grid].to(dtype)


def token_grid(latent_size: tuple[int, int], tokens: int) -> tuple[int, int]:
    """(h, w) of a UNet level with ``tokens`` tokens; each level halves the size, rounding up."""
    height, width = latent_size
    for level in range(8):
        size = (-(-height // 2**level), -(-width // 2**level))
        if size[0] * size[1] == tokens:
            return size
    raise ValueError(f"{tokens} tokens match no UNet level of a {height}x{width} latent")


class KeyMaskedAttnProcessor:
    """Scaled-dot-product self-attention whose keys ignore the controller's masked tokens."""

    def __init__(self, controller: KeyMaskController):
        self.controller = controller

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: object,
        **kwargs: object,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)

        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)

        is_self_attention = encoder_hidden_states is None
        batch_size, sequence_length, _ = (
            hidden_states.shape if is_self_attention else encoder_hidden_states.shape
        )
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])

        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if is_self_attention:
            key_input = hidden_states
            keep = self.controller.keep_factor(hidden_states.shape[1], hidden_states.dtype)
            if keep is not None:
                key_input = hidden_states * keep
            key, value = attn.to_k(key_input), attn.to_v(hidden_states)
        else:
            if attn.norm_cross:
                encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
            key, value = attn.to_k(encoder_hidden_states), attn.to_v(encoder_hidden_states)

        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        hidden_states = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states.to(query.dtype)))

        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


@contextmanager
def key_masking(unet: torch.nn.Module, controller: KeyMaskController) -> Iterator[None]:
    """Install key-masking processors on every self-attention (attn1) layer of ``unet``."""
    previous = dict(unet.attn_processors)
    processor = KeyMaskedAttnProcessor(controller)
    unet.set_attn_processor({
        name: processor if name.endswith("attn1.processor") else current
        for name, current in previous.items()
    })
    try:
        yield
    finally:
        unet.set_attn_processor(previous)
