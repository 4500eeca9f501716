"""Every DesignEdit hyper-parameter, with the paper's value as default.

Steps count from 1: step ``i`` is the ``i``-th UNet evaluation of the denoising loop (t = 981,
961, ..., 1 for SDXL's 50 leading-spaced steps). Window ends are given at the paper's 50 steps and
scale linearly with ``steps``: a window ending at step ``k`` of 50 ends at step
``round(k * steps / 50)`` (halves round up). Window starts are not scaled.

At 50 steps: key masking on steps 2..40, background blending after steps 1..41, fusion after
step 42 (the last 8 steps, 43..50, denoise the fused canvas), refine mask on steps 2..26.

The paper's "key masking for the first K = 40 steps" is the reference code's per-attention-layer
counter, which starts at 0 on the first UNet call and masks while ``0 < counter < 40``: 1-based
steps 2..40 (t = 961..201), 39 steps, the very first step unmasked. Its refine window
``0 < counter <= 25`` is steps 2..26. Blending and fusion count from 1 in the reference code
(blend while ``counter <= 41``, fuse at ``counter == 42``) and need no shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from layeredit.errors import InputError

PAPER_STEPS = 50
DEFAULT_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"


@dataclass
class DesignEditConfig:
    steps: int = field(default=50, metadata={"help": "Number of DDIM inversion and denoising steps."})
    guidance: float = field(
        default=7.5,
        metadata={"help": "Masked-versus-unmasked guidance scale of the background branch."},
    )
    key_mask_from: int = field(
        default=2,
        metadata={
            "help": "First key-masked (and refine-masked) step, from 1; not scaled with --steps: "
            "the reference code leaves only its first step unmasked."
        },
    )
    key_mask_until: int = field(
        default=40,
        metadata={"help": "Key masking is active up to step N (N given at 50 steps, scaled to --steps)."},
    )
    blend_until: int = field(
        default=41,
        metadata={
            "help": "Outside the hole the latent is reset to the inverted source after steps "
            "1..N (N given at 50 steps, scaled to --steps)."
        },
    )
    fusion_after: int = field(
        default=42,
        metadata={
            "help": "Object layers are fused onto the background after step N; the remaining "
            "steps denoise the canvas (N given at 50 steps, scaled to --steps)."
        },
    )
    refine_until: int = field(
        default=26,
        metadata={
            "help": "The refine mask joins the key mask from the first key-masked step up to step N "
            "(N given at 50 steps, scaled to --steps)."
        },
    )
    inversion_guidance_below: int = field(
        default=400,
        metadata={"help": "Inversion guidance acts on steps whose timestep is below this (0..999)."},
    )
    inversion_guidance_rate: float = field(
        default=0.1,
        metadata={
            "help": "Fraction of the drift from the inverted source removed per step outside "
            "the edited region."
        },
    )
    guide_canvas: bool = field(
        default=False,
        metadata={
            "help": "Keep pulling the fused canvas toward the inverted source outside the edit after "
            "fusion (the reference code never guides the canvas; off matches it)."
        },
    )
    seed: int = field(default=0, metadata={"help": "Random seed; the same seed gives the same image."})
    resolution: int | None = field(
        default=None,
        metadata={
            "help": "Working area as the side of a square in pixels (aspect is kept); default: "
            "the model's native size (1024 for SDXL, 512 for SD 1.5)."
        },
    )
    preserve_unedited: bool = field(
        default=True,
        metadata={"help": "Keep the input's pixels exactly outside the edited region.", "flag": "preserve"},
    )
    seam_feather: float = field(
        default=6.0,
        metadata={
            "help": "Width in pixels (at 1024) of the soft seam where the result meets the "
            "preserved original."
        },
    )
    progress_bar: bool = field(default=True, metadata={"help": "Show a progress bar."})
    cpu_offload: bool = field(
        default=False,
        metadata={
            "help": "Keep each model on the CPU until it runs (diffusers' model CPU offload; needs a "
            "CUDA GPU): less GPU memory, slower."
        },
    )
    vae_tiling: bool = field(
        default=False,
        metadata={"help": "Encode and decode the picture in overlapping tiles: less memory at large sizes."},
    )
    vae_slicing: bool = field(
        default=False,
        metadata={"help": "Encode several pictures (layers from other images) one at a time: less memory."},
    )
    cache_size: int = field(
        default=8,
        metadata={"help": "Inverted pictures kept for reuse by later edits of the same image."},
    )

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise InputError(f"steps must be at least 1, got {self.steps}")
        if self.key_mask_from < 1:
            raise InputError(f"key_mask_from counts steps from 1, got {self.key_mask_from}")
        if self.cache_size < 0:
            raise InputError(f"cache_size must not be negative, got {self.cache_size}")

    def scaled(self, step_at_paper_steps: int) -> int:
        """A step number given at 50 steps, moved to ``self.steps``."""
        return min(self.steps, math.floor(step_at_paper_steps * self.steps / PAPER_STEPS + 0.5))

    @property
    def key_mask_last(self) -> int:
        return self.scaled(self.key_mask_until)

    @property
    def blend_last(self) -> int:
        return self.scaled(self.blend_until)

    @property
    def fusion_step(self) -> int:
        return self.scaled(self.fusion_after)

    @property
    def refine_last(self) -> int:
        return self.scaled(self.refine_until)
