"""The BERT stand-in that lets groundingdino-py 0.4 build on transformers 5 (tiny random BERT)."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertModel

from layeredit.tools.grounding_compat import BertWrapper, additive_mask


def _tiny_bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    return BertModel(config).eval()


def test_a_per_phrase_block_mask_encodes_each_phrase_as_if_alone() -> None:
    bert = _tiny_bert()
    ids = torch.tensor([[2, 11, 12, 3, 21, 22, 23]])
    blocks = torch.zeros(1, 7, 7, dtype=torch.long)
    blocks[0, :4, :4] = 1
    blocks[0, 4:, 4:] = 1
    positions = torch.tensor([[0, 1, 2, 3, 0, 1, 2]])  # GroundingDINO restarts them per phrase
    wrapper = BertWrapper(bert)
    with torch.no_grad():
        together = wrapper(input_ids=ids, attention_mask=blocks, position_ids=positions)["last_hidden_state"]
        first = bert(input_ids=ids[:, :4]).last_hidden_state
        second = bert(input_ids=ids[:, 4:]).last_hidden_state
    assert torch.allclose(together[0, :4], first[0], atol=1e-5)
    assert torch.allclose(together[0, 4:], second[0], atol=1e-5)


def test_a_plain_mask_matches_bert_itself_and_the_parameters_keep_their_names() -> None:
    bert = _tiny_bert()
    ids = torch.tensor([[2, 5, 6, 7, 3, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    with torch.no_grad():
        ours = BertWrapper(bert)(input_ids=ids, attention_mask=mask)["last_hidden_state"]
        theirs = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(ours[0, :5], theirs[0, :5], atol=1e-5)
    assert set(BertWrapper(bert).state_dict()) == set(bert.state_dict())


def test_additive_mask_shapes_and_values() -> None:
    flat = additive_mask(torch.tensor([[1, 0]]), torch.float32)
    assert flat.shape == (1, 1, 1, 2) and flat[0, 0, 0, 0] == 0 and flat[0, 0, 0, 1] < -1e30
    assert additive_mask(torch.ones(2, 3, 3), torch.float32).shape == (2, 1, 3, 3)
