"""Phone-size photos: time and peak memory of pixel-engine edits from 0.25 to 12 megapixels, and
the tiny diffusion engine with crop against resize on a 12-megapixel photo with a small object.

Run: .venv/bin/python bench/hires.py [--sizes 512x512,1024x1024,2048x2048,4000x3000]

The photo is the bundled soccer sample upscaled with added grain (tests/hires_photo.py). For
each size, "remove the boy" and "move the boy to the left and make it bigger" run with the
resolution strategy ``auto`` (what users get) and with the direct path this replaces
(``original``: the whole photo at full size, Telea inpainting on all of it); ratio = direct / auto.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.engine import PeakRss  # noqa: E402
from layeredit.api import edit  # noqa: E402
from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine  # noqa: E402
from tests.hires_photo import phone_photo  # noqa: E402
from tests.tiny_models import tiny_sdxl  # noqa: E402

EDITS = {"remove": "remove the boy", "move": "move the boy to the left and make it bigger"}
SMALL_MOVE = {"operations": [{"op": "move", "target": {"phrase": "stone"}, "dx": 0.05, "dy": 0.03}]}


def timed(image: np.ndarray, instruction: str | dict, masks: dict[str, np.ndarray], **options) -> tuple:
    """Seconds, peak resident-memory growth in MiB, and the result's stats."""
    with PeakRss() as memory:
        start = time.perf_counter()
        result = edit(image, instruction, masks=masks, **options)
        seconds = time.perf_counter() - start
    return seconds, (memory.peak - memory.start) / 2**20, result


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def pixel_table(sizes: list[tuple[int, int]]) -> None:
    print("| photo | MP | edit | auto s | auto peak MiB | strategy at size | direct s | direct peak MiB | "
          "speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    image, masks = phone_photo((256, 256))
    edit(image, EDITS["move"], masks={"boy": masks["boy"]})  # warm-up: the planner's tables load once
    for size in sizes:
        image, masks = phone_photo(size)
        boy = {"boy": masks["boy"]}
        for name, instruction in EDITS.items():
            new_s, new_mb, result = timed(image, instruction, boy, hd_strategy="auto")
            old_s, old_mb, _ = timed(image, instruction, boy, hd_strategy="original")
            how = f"{result.stats['hd_strategy']} {result.stats['hd_size']}"
            megapixels = size[0] * size[1] / 1e6
            print(f"| {size[0]}x{size[1]} | {megapixels:.2f} | {name} | {new_s:.2f} | {new_mb:.0f} | {how} | "
                  f"{old_s:.2f} | {old_mb:.0f} | {old_s / new_s:.1f}x |", flush=True)


def small_object_table(size: tuple[int, int]) -> None:
    """Sharpness kept in the edited window when a small object moves, per strategy (pixel engine)."""
    image, masks = phone_photo(size)
    stone = {"stone": masks["stone"]}
    print("\n| strategy (pixel engine, small object moved, 12 MP) | s | Laplacian variance after / before, "
          "edited window |\n|---|---|---|")
    for strategy in ("crop", "resize", "original"):
        seconds, _, result = timed(image, SMALL_MOVE, stone, hd_strategy=strategy)
        ys, xs = np.nonzero(result.scene.edited_region())
        window = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        kept = sharpness(result.image[window]) / sharpness(image[window])
        print(f"| {strategy} | {seconds:.2f} | {kept:.2f} |", flush=True)


def diffusion_table(size: tuple[int, int], steps: int, resolution: int) -> None:
    image, masks = phone_photo(size)
    stone = {"stone": masks["stone"]}
    pipe = tiny_sdxl(Path(tempfile.mkdtemp()))
    print(f"\n| tiny diffusion engine ({steps} steps, working side {resolution}), small object moved, "
          f"{size[0]}x{size[1]} | s | peak MiB | window | engine input | model working size |")
    print("|---|---|---|---|---|---|")
    for strategy in ("crop", "resize"):
        # A fresh engine each time, so neither run reuses the other's cached inversion.
        config = DesignEditConfig(steps=steps, resolution=resolution, progress_bar=False)
        engine = DesignEditEngine(pipe, config, model_id="tiny")
        seconds, peak, result = timed(image, SMALL_MOVE, stone, engine=engine, hd_strategy=strategy)
        stats = result.stats
        print(f"| {strategy} | {seconds:.2f} | {peak:.0f} | {stats['hd_window']} | {stats['hd_size']} | "
              f"{stats['working_size']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512x512,1024x1024,2048x2048,4000x3000")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=256)
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in text.split("x")) for text in args.sizes.split(",")]
    print(f"CPU, {torch.get_num_threads()} threads; OpenCV {cv2.__version__}\n")
    pixel_table(sizes)
    small_object_table(sizes[-1])
    diffusion_table(sizes[-1], args.steps, args.resolution)


if __name__ == "__main__":
    main()
