"""The llama.cpp path in process: a tiny GGUF model written here, its answers shaped by the grammar.

The model is built so every position sees the same hidden state: its logits are one fixed ranking
of the tokens, with end-of-text first. Unconstrained it says nothing at all; under the grammar made
from the answer's JSON Schema the same model can only write a parseable answer, so the planner gets
a valid plan from weights that know nothing.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from layeredit.agent.llm_backends import LlamaCppBackend
from layeredit.agent.small_llm import SmallModelPlanner
from layeredit.plan import EditPlan

EMBED, FEED_FORWARD, HEADS, CONTEXT = 16, 32, 2, 8192
# Byte tokens only: SentencePiece falls back to them for any text. End of text ranks first.
RANKING = ["</s>", *'"}]{[:,ormevpatins']


def write_tiny_gguf(path: Path) -> None:
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types([2, 3, 3] + [6] * 256)  # unknown, control x2, then bytes
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    ids = {name: i for i, name in enumerate(tokens)}
    # Zero attention and feed-forward weights leave the residual at the (constant) embedding, so
    # the output layer's first column alone orders the tokens.
    output = np.zeros((len(tokens), EMBED), np.float32)
    for place, name in enumerate(RANKING):
        output[ids[name if len(name) > 1 else f"<0x{ord(name):02X}>"], 0] = len(RANKING) - place
    tensors = {
        "token_embd.weight": np.ones((len(tokens), EMBED), np.float32),
        "output_norm.weight": np.ones(EMBED, np.float32),
        "output.weight": output,
        "blk.0.attn_norm.weight": np.ones(EMBED, np.float32),
        "blk.0.ffn_norm.weight": np.ones(EMBED, np.float32),
    }
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        tensors[f"blk.0.{name}.weight"] = np.zeros((EMBED, EMBED), np.float32)
    tensors["blk.0.ffn_gate.weight"] = np.zeros((FEED_FORWARD, EMBED), np.float32)
    tensors["blk.0.ffn_up.weight"] = np.zeros((FEED_FORWARD, EMBED), np.float32)
    tensors["blk.0.ffn_down.weight"] = np.zeros((EMBED, FEED_FORWARD), np.float32)
    for name, value in tensors.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_grammar_makes_a_model_that_knows_nothing_answer_with_a_valid_plan(tmp_path):
    path = tmp_path / "tiny.gguf"
    write_tiny_gguf(path)
    backend = LlamaCppBackend(path, context=CONTEXT)
    planner = SmallModelPlanner(backend)
    plan = planner.plan("remove the ball", (100, 100))
    assert isinstance(plan, EditPlan) and len(plan.operations) == 1
    assert planner.usage.calls == 1 and 0 < planner.usage.completion_tokens < 256
    assert planner.usage.prompt_tokens > 1000  # byte tokens: the whole prompt was read
    # Without the grammar the same model ends at once: the answer's shape comes from the grammar.
    free = backend.llama.create_chat_completion(
        messages=[{"role": "user", "content": "remove the ball"}], temperature=0.0, max_tokens=8
    )
    assert free["choices"][0]["message"]["content"] == ""
    assert LlamaCppBackend(path, context=CONTEXT).llama is backend.llama  # loaded once per process
