"""groundingdino-py 0.4 on transformers 5: a stand-in for its BERT wrapper.

The package's ``BertModelWarper`` copies ``BertModel.get_extended_attention_mask`` and
``get_head_mask`` and calls ``BertEncoder`` with arguments (``head_mask``, ``past_key_values``,
``output_attentions``) that transformers 5 removed. :class:`BertWrapper` keeps its interface and
parameter names (``embeddings``, ``encoder``, ``pooler``: official checkpoints load unchanged) and
turns GroundingDINO's 2D or 3D (per-phrase block) attention mask into the additive 4D mask the
transformers 5 encoder takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class BertWrapper(nn.Module):
    """GroundingDINO's text encoder call on a transformers ``BertModel``'s parts."""

    def __init__(self, bert_model: nn.Module):
        super().__init__()
        self.config = bert_model.config
        self.embeddings = bert_model.embeddings
        self.encoder = bert_model.encoder
        self.pooler = bert_model.pooler

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **_unused: Any,
    ) -> dict[str, torch.Tensor | None]:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids
        )
        sequence = self.encoder(hidden, attention_mask=additive_mask(attention_mask, hidden.dtype))[0]
        pooled = self.pooler(sequence) if self.pooler is not None else None
        return {"last_hidden_state": sequence, "pooler_output": pooled}


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, keys) or (batch, queries, keys) {0, 1} -> (batch, 1, queries or 1, keys), 0 or -inf-ish."""
    grid = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None, :, :]
    return (1.0 - grid.to(dtype)) * torch.finfo(dtype).min


def needs_bert_wrapper() -> bool:
    from transformers import BertModel

    return not hasattr(BertModel, "get_head_mask")


@contextmanager
def compatible_groundingdino() -> Iterator[None]:
    """While building a groundingdino-py model, use :class:`BertWrapper` if transformers needs it."""
    from groundingdino.models.GroundingDINO import groundingdino as module

    original = module.BertModelWarper
    if needs_bert_wrapper():
        module.BertModelWarper = BertWrapper
    try:
        yield
    finally:
        module.BertModelWarper = original
