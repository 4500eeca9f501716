"""A literal, slow and plain DesignEdit written from docs/method.md, for tests only.

It starts from a compiled :class:`~layeredit.engine.scene.Scene` (pictures, hole, object masks and
offsets: the plan's layer decomposition, shared with the pixel engine) and shares no code with
``layeredit.engine.designedit``: framing, mask conversion, inversion, attention, guidance,
blending, fusion and pixel preservation are all written again here, on diffusers alone.

In its most literal form (``OracleChoices.literal()``) every row of the batch - source, background,
canvas and one per object layer - is denoised from its picture's x_T and evaluated with both
guidance halves; only the background row of the conditional half is key-masked; inversion
guidance uses the reference's quantile edit mask (``|eps_cond - eps_uncond|`` above its 0.75
quantile, dilated by 2 latent pixels, joined by the hole on the background row, all ones on the
canvas row). The engine's documented deviations are the other sides of the switches in
:class:`OracleChoices`; ``OracleChoices.engine(config)`` sets them as the engine makes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler

PAPER_STEPS = 50


@dataclass(frozen=True)
class OracleChoices:
    # "denoised": the source and object rows are denoised from x_T like any row (the reference);
    # "inverted": they are the inverted trajectory x*_t itself (the engine's documented choice).
    source_branch: str = "inverted"
    # "quantile": the reference's edit mask from the guidance difference; "hole": the hole only
    # (the engine's choice, the same wherever blending overrides it or the difference is zero).
    guidance_mask: str = "hole"
    # Pull the fused canvas toward the source outside the edit (the engine's ``guide_canvas``).
    guide_canvas: bool = False

    @classmethod
    def literal(cls) -> OracleChoices:
        return cls(source_branch="denoised", guidance_mask="quantile", guide_canvas=False)

    @classmethod
    def engine(cls, config) -> OracleChoices:
        return cls(source_branch="inverted", guidance_mask="hole", guide_canvas=config.guide_canvas)


@dataclass(frozen=True)
class OracleWindows:
    """docs/method.md's windows at 50 steps (1-based steps, key masking as the reference counts it)."""

    key_mask: tuple[int, int] = (2, 40)
    refine: tuple[int, int] = (2, 26)
    blend_last: int = 41
    fusion_after: int = 42
    guidance_below_t: int = 400
    guidance_rate: float = 0.1
    guidance_scale: float = 7.5

    def at(self, step_at_50: int, steps: int) -> int:
        return min(steps, math.floor(step_at_50 * steps / PAPER_STEPS + 0.5))


@dataclass
class OracleResult:
    latent: torch.Tensor  # the output row after the last step
    image: np.ndarray  # input size, pixels preserved outside the edit


def _px(size_at_1024: float, shape) -> int:
    if size_at_1024 <= 0:
        return 0
    return max(1, round(size_at_1024 * math.sqrt(shape[0] * shape[1]) / 1024))


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0 or not mask.any():
        return mask.copy()
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), disk) > 0


def _translate(array: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    out = torch.zeros_like(array)
    h, w = array.shape[-2:]
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                out[..., y, x] = array[..., y - dy, x - dx]
    return out


class _KeyMasking:
    """Eager self-attention; the keys of the flagged rows come from ``h * (1 - M)``."""

    def __init__(self) -> None:
        self.masks: torch.Tensor | None = None  # (rows, 1, h, w) at latent size, zero = unmasked

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 *args, **kwargs):
        batch, tokens, _ = hidden_states.shape
        key_input = hidden_states
        if encoder_hidden_states is None and self.masks is not None:
            lh, lw = self.masks.shape[-2:]
            level = next(k for k in range(8) if math.ceil(lh / 2**k) * math.ceil(lw / 2**k) == tokens)
            grid = (math.ceil(lh / 2**level), math.ceil(lw / 2**level))
            small = F.interpolate(self.masks, size=grid, mode="bilinear", align_corners=False)
            key_input = hidden_states * (1 - small.reshape(batch, tokens, 1))
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        q = attn.to_q(hidden_states)
        k = attn.to_k(key_input if encoder_hidden_states is None else context)
        v = attn.to_v(context)
        heads = attn.heads
        q, k, v = (t.reshape(batch, -1, heads, t.shape[-1] // heads).transpose(1, 2) for t in (q, k, v))
        weights = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, tokens, -1)
        return attn.to_out[1](attn.to_out[0](out))


@torch.no_grad()
def oracle_edit(pipe, scene, config, choices: OracleChoices, windows: OracleWindows = OracleWindows(),
                object_dilation: float = 10.0, on_step=None) -> OracleResult:
    """The edited picture of ``scene`` with ``pipe``; ``config`` gives steps, seed, size, preservation.

    ``on_step(step, latent)`` sees the background row up to the fusion step, the canvas after it.
    """
    steps = config.steps
    unet, vae = pipe.unet, pipe.vae
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    multiple = factor * 2 ** (len(unet.config.block_out_channels) - 1)
    height, width = scene.source.shape[:2]
    sample = unet.config.sample_size
    side = config.resolution or (sample if isinstance(sample, int) else sample[0]) * factor
    scale = math.sqrt(side * side / (width * height))
    work_w, work_h = (max(multiple, round(s * scale / multiple) * multiple) for s in (width, height))
    lat_h, lat_w = work_h // factor, work_w // factor

    def to_latent_mask(mask: np.ndarray, above: float) -> torch.Tensor:
        area = cv2.resize(mask.astype(np.float32), (lat_w, lat_h), interpolation=cv2.INTER_AREA)
        return torch.tensor(area > above, dtype=torch.float32)[None, None]

    def working(picture: np.ndarray) -> np.ndarray:
        shrink = work_w * work_h < width * height
        how = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
        return cv2.resize(picture, (work_w, work_h), interpolation=how)

    # Empty prompt and, for SDXL, its pooled embedding and size conditioning.
    sdxl = getattr(unet.config, "addition_embed_type", None) == "text_time"
    if sdxl:
        embeds, _, pooled, _ = pipe.encode_prompt(prompt="", device=unet.device, num_images_per_prompt=1,
                                                  do_classifier_free_guidance=False)
        time_ids = torch.tensor([[work_h, work_w, 0, 0, work_h, work_w]], dtype=embeds.dtype)
    else:
        embeds, _ = pipe.encode_prompt("", unet.device, 1, False)

    def eps_of(latents: torch.Tensor, t) -> torch.Tensor:
        n = latents.shape[0]
        added = None
        if sdxl:
            added = {"text_embeds": pooled.repeat(n, 1), "time_ids": time_ids.repeat(n, 1)}
        return unet(latents, t, encoder_hidden_states=embeds.repeat(n, 1, 1), added_cond_kwargs=added).sample

    scheduler = DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False, set_alpha_to_one=False)
    scheduler.set_timesteps(steps)
    timesteps = [int(t) for t in scheduler.timesteps]
    jump = scheduler.config.num_train_timesteps // steps

    def alpha(t: int) -> torch.Tensor:
        return scheduler.alphas_cumprod[t] if t >= 0 else scheduler.final_alpha_cumprod

    processor = _KeyMasking()
    saved = dict(unet.attn_processors)
    unet.set_attn_processor(processor)
    try:
        # 1. Inversion of every distinct picture: stars[id][j] is the latent at timesteps[j]'s level
        #    (j = 0 is x_T), stars[id][steps] the clean latent.
        stars: dict[int, list[torch.Tensor]] = {}
        for picture in [scene.background, *(layer.image for layer in scene.drawn)]:
            if id(picture) in stars:
                continue
            pixels = torch.tensor(working(picture), dtype=torch.float32).permute(2, 0, 1)[None] / 127.5 - 1
            x = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
            path = [x]
            for t in reversed(timesteps):
                eps = eps_of(x, t)
                a_prev, a_t = alpha(t - jump), alpha(t)
                x0 = (x - (1 - a_prev).sqrt() * eps) / a_prev.sqrt()
                x = a_t.sqrt() * x0 + (1 - a_t).sqrt() * eps
                path.append(x)
            stars[id(picture)] = path[::-1]

        background = stars[id(scene.background)]
        hole = to_latent_mask(scene.hole, 0.0)
        refine = None
        if scene.refine is not None and scene.refine.any():
            refine = to_latent_mask(scene.refine, 0.0)
        layers = []
        for layer in scene.drawn:
            mask = to_latent_mask(_grow(layer.mask, _px(object_dilation, scene.source.shape)), 0.5)
            per_x, per_y = width / work_w * factor, height / work_h * factor
            shift = (int(layer.offset[0] / per_x), int(layer.offset[1] / per_y))
            layers.append((stars[id(layer.image)], _translate(mask, *shift), shift))

        mask_from, mask_last = windows.key_mask[0], windows.at(windows.key_mask[1], steps)
        refine_last = windows.at(windows.refine[1], steps)
        blend_last, fusion = windows.at(windows.blend_last, steps), windows.at(windows.fusion_after, steps)

        # 2. Rows: 0 source, 1 background, 2 canvas, 3... object layers; all start at x_T.
        rows = [background[0], background[0], background[0], *(path[0] for path, _, _ in layers)]
        targets = [background, background, background, *(path for path, _, _ in layers)]
        x = torch.cat(rows)
        n = x.shape[0]
        edited = hole.clone()
        for _, placed, _ in layers:
            edited = torch.maximum(edited, placed)
        generator = torch.Generator().manual_seed(config.seed)
        for step, t in enumerate(timesteps, start=1):
            masks = torch.zeros(2 * n, 1, lat_h, lat_w)
            key = torch.zeros_like(hole)
            if mask_from <= step <= mask_last:
                key = key + hole
            if refine is not None and mask_from <= step <= refine_last:
                key = key + refine
            masks[n + 1] = key.clamp(0, 1)[0]  # the background row of the conditional half
            # The halves run as two batches of the same shape: with nothing key-masked they are then
            # the same computation and their difference is exactly zero. One batch of 2n rows is
            # split across CPU threads differently for each half and leaves ~1e-6 of float noise,
            # which the quantile mask below would turn into a random edit mask.
            processor.masks = masks[:n]
            eps_uncond = eps_of(x, t)
            processor.masks = masks[n:]
            eps_cond = eps_of(x, t)
            delta = eps_cond - eps_uncond
            eps = eps_uncond + windows.guidance_scale * delta
            x = scheduler.step(eps, t, x, generator=generator).prev_sample
            if choices.source_branch == "inverted":
                x[0] = background[step][0]
                for row, (path, _, _) in enumerate(layers, start=3):
                    x[row] = path[step][0]
            target = torch.cat([path[step] for path in targets])
            if t < windows.guidance_below_t:
                if choices.guidance_mask == "quantile":
                    threshold = delta.abs().quantile(0.75)
                    keep = F.max_pool2d((delta.abs() > threshold).float(), 5, 1, 2)
                else:
                    keep = torch.zeros_like(x)
                keep[1] = (keep[1] + hole[0]).clamp(0, 1)
                if step > fusion and choices.guide_canvas:
                    keep[2] = edited[0].expand_as(keep[2])
                elif step > fusion and not layers:
                    keep[2] = hole[0].expand_as(keep[2])
                else:
                    keep[2] = 1
                x = x - windows.guidance_rate * (x - target) * (1 - keep)
            if step <= blend_last:
                x[1] = x[1] * hole[0] + x[0] * (1 - hole[0])
            if step == fusion:
                canvas = x[1:2]
                for row, (_, placed, shift) in enumerate(layers, start=3):
                    canvas = canvas * (1 - placed) + _translate(x[row : row + 1], *shift) * placed
                x[2] = canvas[0]
            if on_step:
                on_step(step, x[2:3] if step >= fusion else x[1:2])
        processor.masks = None
    finally:
        unet.set_attn_processor(saved)

    out = x[2:3]
    pixels = vae.decode(out / vae.config.scaling_factor).sample
    picture = ((pixels[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    image = cv2.resize(picture, (width, height), interpolation=cv2.INTER_CUBIC)
    if config.preserve_unedited:
        seam = _px(config.seam_feather, scene.source.shape)
        image = _preserve(scene.source, image, scene.edited_region(), seam)
    return OracleResult(latent=out, image=image)


def _preserve(original: np.ndarray, result: np.ndarray, region: np.ndarray, seam: int) -> np.ndarray:
    """The original outside ``region``; inside, the result ramps in over ``seam`` pixels."""
    if not region.any():
        return original.copy()
    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    weight = np.clip(depth / max(seam, 1), 0, 1)[..., None]
    mixed = np.clip(np.round(original * (1.0 - weight) + result * weight), 0, 255).astype(np.uint8)
    return np.where(region[..., None], mixed, original)
