"""Loading a diffusers latent-diffusion pipeline from the hub or a local folder."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import DiffusionPipeline, UNet2DConditionModel
from huggingface_hub.errors import HFValidationError

from layeredit.engine.designedit.config import DEFAULT_MODEL
from layeredit.errors import ModelLoadError
from layeredit.hub import download_command, quiet_loading


class ModelNotFoundError(ModelLoadError):
    """The diffusion model's weights are not available; the message says how to get them."""


def missing_model_message(model: str, reason: str) -> str:
    return (
        f"diffusion model {model!r} is not available ({reason}). Download it with "
        f"`{download_command(model if not _looks_like_path(model) else DEFAULT_MODEL)}` "
        f"(needs network access), or point at a local copy of a diffusers model folder with "
        f"`--model /path/to/folder` (Python: model='/path/to/folder')."
    )


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(
    model: str = DEFAULT_MODEL, device: str | None = None, dtype: torch.dtype | None = None
) -> DiffusionPipeline:
    """A UNet latent-diffusion pipeline (SDXL, SD 1.5/2.x) on ``device``; fp16 on CUDA, fp32 elsewhere.

    Raises :class:`ModelNotFoundError` when the weights cannot be found.
    """
    device = device or default_device()
    dtype = dtype or (torch.float16 if device.startswith("cuda") else torch.float32)
    if _looks_like_path(model) and not Path(model).is_dir():
        raise ModelNotFoundError(missing_model_message(model, "no such folder"))
    if Path(model).is_dir() and not (Path(model) / "model_index.json").is_file():
        raise ModelNotFoundError(missing_model_message(model, "the folder has no model_index.json"))
    try:
        with quiet_loading():
            pipe = DiffusionPipeline.from_pretrained(model, torch_dtype=dtype)
    except (OSError, HFValidationError):
        reason = "it is not in the local Hugging Face cache and could not be downloaded"
        raise ModelNotFoundError(missing_model_message(model, reason)) from None
    unet, vae = getattr(pipe, "unet", None), getattr(pipe, "vae", None)
    if not isinstance(unet, UNet2DConditionModel) or vae is None:
        raise ModelLoadError(f"{model!r} is not a UNet latent-diffusion pipeline (SDXL, SD 1.5/2.x)")
    pipe.to(device)
    if pipe.vae.dtype == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        # SDXL's VAE overflows in fp16; the pipelines upcast it too.
        pipe.vae.to(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or Path(model).exists() or model.count("/") > 1


def apply_memory_options(pipe: DiffusionPipeline, offload: bool, tiling: bool, slicing: bool) -> None:
    """Model CPU offload and VAE tiling/slicing, as the diffusers pipelines offer them."""
    if tiling:
        pipe.vae.enable_tiling()
    if slicing:
        pipe.vae.enable_slicing()
    if offload:
        if not torch.cuda.is_available():
            raise ValueError("--cpu-offload needs a CUDA GPU (it keeps models on the CPU until they run "
                             "on the GPU); drop the flag on a machine without one")
        pipe.enable_model_cpu_offload()
