"""Peak memory of one step of each DesignEdit phase with the full SDXL UNet and VAE at 1024².

Run: .venv/bin/python bench/memory.py   (needs ~15 GB of RAM and a long while on a small CPU)

The models are SDXL base 1.0's UNet and VAE built from their configs with random weights (no
download), in float32 on the CPU. Each phase runs once and reports its peak resident memory above
the memory held before it (the weights): an inversion step (one row, the stock attention), a
key-masked step (two rows: masked and unmasked), a one-row step, VAE encode and decode (also with
tiling and slicing), against the stock diffusers SDXL pipeline's denoising step in the same run
(two classifier-free-guidance rows, the stock attention). Large allocations are returned to the
system at once (``MALLOC_MMAP_THRESHOLD_``), so one phase's freed memory does not hide the next
phase's peak. The fp16 estimate halves weights and activations.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if os.environ.get("MALLOC_MMAP_THRESHOLD_") != "65536":
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.engine import PeakRss, _rss  # noqa: E402
from layeredit.engine.designedit.attention import KeyMaskController, key_masking  # noqa: E402

GIB = 1024**3
SIDE = 1024
LATENT = SIDE // 8
# SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0, unet/ and vae/ config.json).
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280), transformer_layers_per_block=(1, 2, 10),
    attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)
SDXL_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=2, norm_num_groups=32, sample_size=1024, scaling_factor=0.13025, force_upcast=True,
)
TEXT_ENCODERS_PARAMETERS = 123_060_480 + 694_659_840  # CLIP ViT-L and OpenCLIP bigG text towers


def unet_step(unet: UNet2DConditionModel, rows: int) -> None:
    latents = torch.randn(rows, 4, LATENT, LATENT)
    size_ids = torch.tensor([[SIDE, SIDE, 0, 0, SIDE, SIDE]] * rows, dtype=torch.float32)
    added = {"text_embeds": torch.zeros(rows, 1280), "time_ids": size_ids}
    unet(latents, 500, encoder_hidden_states=torch.zeros(rows, 77, 2048), added_cond_kwargs=added)


def measure(name: str, run, rows: list[tuple[str, float, float]]) -> None:
    before = _rss()
    start = time.perf_counter()
    with torch.no_grad(), PeakRss() as memory:
        run()
    seconds = time.perf_counter() - start
    rows.append((name, (memory.peak - before) / GIB, seconds))
    print(f"  {name}: +{(memory.peak - before) / GIB:.2f} GiB in {seconds:.0f} s", flush=True)


def main() -> None:
    torch.manual_seed(0)
    start = _rss()
    vae = AutoencoderKL(**SDXL_VAE).eval()
    unet = UNet2DConditionModel(**SDXL_UNET).eval()
    weights = (_rss() - start) / GIB
    unet_params = sum(p.numel() for p in unet.parameters())
    vae_params = sum(p.numel() for p in vae.parameters())
    print(f"CPU float32, torch {torch.__version__}, {torch.get_num_threads()} threads; UNet "
          f"{unet_params / 1e9:.2f} B and VAE {vae_params / 1e6:.0f} M parameters ({weights:.1f} GiB); "
          f"{SIDE}x{SIDE}", flush=True)

    rows: list[tuple[str, float, float]] = []
    measure("stock diffusers SDXL step (2 CFG rows)", lambda: unet_step(unet, 2), rows)
    measure("inversion step (1 row)", lambda: unet_step(unet, 1), rows)
    controller = KeyMaskController()
    hole = torch.zeros(1, 1, LATENT, LATENT)
    hole[..., 40:90, 30:80] = 1
    with key_masking(unet, controller):
        controller.set_masks(torch.cat([hole, torch.zeros_like(hole)]))
        measure("key-masked step (2 rows)", lambda: unet_step(unet, 2), rows)
        controller.set_masks(None)
        measure("one-row step", lambda: unet_step(unet, 1), rows)
    picture = torch.rand(1, 3, SIDE, SIDE) * 2 - 1
    latent = torch.randn(1, 4, LATENT, LATENT)
    measure("VAE encode", lambda: vae.encode(picture), rows)
    measure("VAE decode", lambda: vae.decode(latent), rows)
    vae.enable_tiling()
    measure("VAE encode, tiled", lambda: vae.encode(picture), rows)
    measure("VAE decode, tiled", lambda: vae.decode(latent), rows)
    vae.disable_tiling()
    vae.enable_slicing()
    measure("VAE encode of 3 pictures, sliced", lambda: vae.encode(picture.repeat(3, 1, 1, 1)), rows)
    vae.disable_slicing()
    measure("VAE encode of 3 pictures", lambda: vae.encode(picture.repeat(3, 1, 1, 1)), rows)

    stock = rows[0][1]
    print("\n| phase | peak above weights, fp32 GiB | vs stock step | fp16 estimate GiB | seconds |")
    print("|---|---|---|---|---|")
    for name, peak, seconds in rows:
        print(f"| {name} | {peak:.2f} | {peak / stock:.2f} | {peak / 2:.2f} | {seconds:.0f} |")
    fp16_weights = (unet_params + vae_params) * 2 / GIB
    text = TEXT_ENCODERS_PARAMETERS * 2 / GIB
    removal = ("inversion step", "key-masked step", "one-row step", "VAE encode", "VAE decode")
    worst = max(peak for name, peak, _ in rows if name.startswith(removal) and "," not in name) / 2
    print(f"\nfp16 removal estimate: UNet + VAE weights {fp16_weights:.1f} GiB + worst phase {worst:.1f} GiB "
          f"= {fp16_weights + worst:.1f} GiB (+ {text:.1f} GiB while the text encoders stay loaded); "
          f"target: under 8 GB ({8e9 / GIB:.2f} GiB)")


if __name__ == "__main__":
    main()
