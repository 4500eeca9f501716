"""Tiny random-weight SDXL- and SD 1.5-shaped pipelines built from configs (no download).

``save_tiny_sdxl(path)`` / ``save_tiny_sd15(path)`` write a diffusers folder that loads with
``from_pretrained(path)`` exactly like a real model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

TEXT_DIM = 32
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tiny_tokenizer(folder: Path) -> CLIPTokenizer:
    """A CLIP BPE tokenizer over single letters, from a vocabulary written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>", *LETTERS, *(c + "</w>" for c in LETTERS)]
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=16)


def _text_config(vocab_size: int, projection: bool) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=TEXT_DIM, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=16, projection_dim=TEXT_DIM if projection else 512,
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_act="gelu",
    )


def tiny_vae(block_out_channels: tuple[int, ...] = (8, 16, 16)) -> AutoencoderKL:
    """Latent factor 2 ** (len(block_out_channels) - 1)."""
    return AutoencoderKL(
        block_out_channels=block_out_channels, in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * len(block_out_channels),
        up_block_types=("UpDecoderBlock2D",) * len(block_out_channels),
        layers_per_block=1, norm_num_groups=8, sample_size=32,
    )


def tiny_unet(sdxl: bool, block_out_channels: tuple[int, ...] = (32, 64), layers_per_block: int = 1,
              sample_size: int = 16) -> UNet2DConditionModel:
    depth = len(block_out_channels)
    extra = {}
    if sdxl:
        extra = {"addition_embed_type": "text_time", "addition_time_embed_dim": 8,
                 "projection_class_embeddings_input_dim": 8 * 6 + TEXT_DIM}
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=4, out_channels=4, layers_per_block=layers_per_block,
        block_out_channels=block_out_channels, norm_num_groups=8,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (depth - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (depth - 1) + ("UpBlock2D",),
        attention_head_dim=8, cross_attention_dim=2 * TEXT_DIM if sdxl else TEXT_DIM,
        use_linear_projection=sdxl, **extra,
    )


def tiny_scheduler() -> DDIMScheduler:
    return DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading",
    )


def tiny_sdxl(workdir: Path, seed: int = 0) -> StableDiffusionXLPipeline:
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(workdir / "tokenizer_files")
    vocab = len(tokenizer)
    return StableDiffusionXLPipeline(
        vae=tiny_vae(), unet=tiny_unet(sdxl=True), scheduler=tiny_scheduler(),
        text_encoder=CLIPTextModel(_text_config(vocab, projection=False)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(vocab, projection=True)),
        tokenizer=tokenizer, tokenizer_2=tokenizer,
    )


def tiny_sd15(workdir: Path, seed: int = 0) -> StableDiffusionPipeline:
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(workdir / "tokenizer_files")
    return StableDiffusionPipeline(
        vae=tiny_vae(), unet=tiny_unet(sdxl=False), scheduler=tiny_scheduler(),
        text_encoder=CLIPTextModel(_text_config(len(tokenizer), projection=False)), tokenizer=tokenizer,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def save_tiny_sdxl(path: str | Path) -> Path:
    path = Path(path)
    tiny_sdxl(path.parent / f".{path.name}-build").save_pretrained(path)
    return path


def save_tiny_sd15(path: str | Path) -> Path:
    path = Path(path)
    tiny_sd15(path.parent / f".{path.name}-build").save_pretrained(path)
    return path
