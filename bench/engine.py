"""Speed and memory of the DesignEdit engine on CPU with a mid-size random-weight SDXL-shaped model.

Run: .venv/bin/python bench/engine.py [--steps 20] [--resolution 256]   (or `make bench`)

Prints seconds, UNet calls and peak resident memory per edit (remove / move / 3-layer), and the
ratio of one of our denoising steps to one step of the plain diffusers pipeline on the same model
and size: key-masked steps (2 rows: masked + unmasked) against classifier-free-guidance steps
(2 rows), single-row steps against guidance-free steps.

Inputs are the samples bundled in the package (layeredit/samples), so it runs on any clone. The
tables also replace the "latest run" section of bench/RESULTS.md (``--no-record`` leaves it alone).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine  # noqa: E402
from layeredit.engine.designedit.attention import KeyMaskController, key_masking  # noqa: E402
from layeredit.engine.designedit.denoiser import Denoiser, EmptyPrompt  # noqa: E402
from layeredit.engine.layers import LayerStack, fit_to_canvas  # noqa: E402
from layeredit.engine.scene import compile_scene  # noqa: E402
from layeredit.imageio import load_image  # noqa: E402
from layeredit.plan import EditPlan  # noqa: E402
from layeredit.tools.masks import load_mask  # noqa: E402
from tests.tiny_models import tiny_scheduler, tiny_tokenizer, tiny_unet, tiny_vae  # noqa: E402

SAMPLES = REPO / "layeredit" / "samples"
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- bench/engine.py latest run: begin -->", "<!-- bench/engine.py latest run: end -->"



def mid_size_sdxl(workdir: Path):
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from tests.tiny_models import _text_config

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(workdir / "tokenizer")
    return StableDiffusionXLPipeline(
        vae=tiny_vae((32, 64, 128, 128)),
        unet=tiny_unet(sdxl=True, block_out_channels=(64, 128, 256), layers_per_block=2, sample_size=64),
        scheduler=tiny_scheduler(),
        text_encoder=CLIPTextModel(_text_config(len(tokenizer), projection=False)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(len(tokenizer), projection=True)),
        tokenizer=tokenizer, tokenizer_2=tokenizer,
    )


class PeakRss:
    """Peak resident memory of this process while the block runs, sampled every 5 ms."""

    def __enter__(self) -> PeakRss:
        self.peak = self.start = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def edits() -> dict[str, tuple[LayerStack, EditPlan]]:
    """Remove and move the boy of the soccer sample; the 3-layer edit also inserts Pikachu and the apple."""
    image = load_image(SAMPLES / "soccer/image.jpg")
    boy = LayerStack(image=image, objects={"boy": [load_mask(SAMPLES / "soccer/boy.jpg")]})
    pikachu = load_image(SAMPLES / "pikachu/image.jpg")
    foreign = {
        ("pikachu/image.jpg", name): fit_to_canvas(
            pikachu, [load_mask(SAMPLES / f"pikachu/{name}.jpg")], boy.size
        )
        for name in ("pikachu", "apple")
    }
    three = LayerStack(image=image, objects=boy.objects, foreign=foreign)
    move = {"op": "move", "target": {"phrase": "boy"}, "dx": -0.2, "dy": 0.1}
    return {
        "remove": (boy, EditPlan.parse({"operations": [{"op": "remove", "target": {"phrase": "boy"}}]})),
        "move": (boy, EditPlan.parse({"operations": [move]})),
        "3-layer": (three, EditPlan.parse({"operations": [
            move,
            {"op": "insert", "source": "pikachu/image.jpg", "target": {"phrase": "pikachu"}, "dx": 0.1},
            {"op": "insert", "source": "pikachu/image.jpg", "target": {"phrase": "apple"}, "dx": -0.1},
        ]})),
    }


def record(section: str, results: Path = RESULTS) -> None:
    """Replace the latest-run section of ``results`` with ``section`` (appended the first time)."""
    text = results.read_text() if results.exists() else ""
    block = f"{BEGIN}\n{section.rstrip()}\n{END}\n"
    before, found, rest = text.partition(BEGIN)
    if found:
        _, ended, after = rest.partition(END)
        if not ended:
            raise SystemExit(f"{results} has {BEGIN!r} without {END!r}; fix the file by hand")
        text = before + block + after.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    partial = results.with_name(results.name + ".tmp")
    partial.write_text(text)
    os.replace(partial, results)


def plain_step_seconds(pipe, steps: int, size: int, guidance: float) -> float:
    marks: list[float] = []

    def mark(_pipe, _step, _timestep, kwargs):
        marks.append(time.perf_counter())
        return kwargs

    start = time.perf_counter()
    pipe(prompt="", num_inference_steps=steps, guidance_scale=guidance, height=size, width=size,
         output_type="latent", callback_on_step_end=mark)
    return statistics.median(np.diff([start, *marks]))


def processor_overhead(pipe, resolution: int, repeats: int = 15) -> tuple[float, float]:
    """Median seconds of one single-row UNet forward with the stock attention processors and with
    ours installed (no mask), interleaved so that machine noise hits both alike."""
    denoiser = Denoiser(pipe.unet, EmptyPrompt.encode(pipe, torch.device("cpu")))
    latents = torch.randn(1, 4, resolution // 8, resolution // 8, generator=torch.Generator().manual_seed(0))
    controller = KeyMaskController()
    stock, ours = [], []
    for _ in range(repeats):
        for times, context in ((stock, contextlib.nullcontext()), (ours, key_masking(pipe.unet, controller))):
            with context, torch.inference_mode():
                start = time.perf_counter()
                denoiser(latents, 500)
                times.append(time.perf_counter() - start)
    return statistics.median(stock), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--no-record", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    lines: list[str] = []
    started_load = os.getloadavg()[0]

    def report(text: str) -> None:
        print(text)
        lines.append(text)

    pipe = mid_size_sdxl(Path(tempfile.mkdtemp()))
    pipe.set_progress_bar_config(disable=True)
    unet_params = sum(p.numel() for p in pipe.unet.parameters()) / 1e6
    config = DesignEditConfig(steps=args.steps, resolution=args.resolution, progress_bar=False)
    report(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; SDXL-shaped random UNet "
           f"{unet_params:.1f} M parameters; {args.resolution}x{args.resolution} (latent "
           f"{args.resolution // 8}^2), {args.steps} steps\n")

    report("| edit | seconds | invert s | denoise s | decode s | unet_calls | peak RSS MiB |")
    report("|---|---|---|---|---|---|---|")
    step_times: dict[int, list[float]] = {1: [], 2: []}
    key_masked_last = min(config.key_mask_last, config.fusion_step)
    for name, (stack, plan) in edits().items():
        engine = DesignEditEngine(pipe, config, model_id="random mid-size SDXL")
        marks: list[float] = []  # end of every denoising step
        start = time.perf_counter()
        with PeakRss() as memory:
            scene = compile_scene(stack, plan, engine.params)
            rendering = engine.render(scene, on_step=lambda _step, _latents, marks=marks: marks.append(
                time.perf_counter()))
        total = time.perf_counter() - start
        durations = np.diff(marks)  # durations[j] is step j + 2
        step_times[2].extend(durations[: key_masked_last - 1])  # steps 2..K: masked + unmasked rows
        step_times[1].extend(durations[config.fusion_step - 1 :])  # steps F+1..N: the canvas
        t = rendering.timings
        report(f"| {name} | {total:.1f} | {t['invert']:.1f} | {t['denoise']:.1f} | {t['decode']:.1f} | "
               f"{rendering.stats['unet_calls']} | {(memory.peak - memory.start) / 2**20:.0f} |")

    cfg_step = plain_step_seconds(pipe, args.steps, args.resolution, guidance=7.5)
    plain_step = plain_step_seconds(pipe, args.steps, args.resolution, guidance=1.0)
    ours_two, ours_one = statistics.median(step_times[2]), statistics.median(step_times[1])
    report("\n| step | ours s | plain diffusers s | ratio |\n|---|---|---|---|")
    report(f"| 2 rows (key-masked vs CFG) | {ours_two:.3f} | {cfg_step:.3f} | {ours_two / cfg_step:.3f} |")
    report(f"| 1 row (canvas vs no guidance) | {ours_one:.3f} | {plain_step:.3f} | "
           f"{ours_one / plain_step:.3f} |")
    stock, ours = processor_overhead(pipe, args.resolution)
    report(f"| 1 UNet forward, key-masking processor vs stock (15 interleaved runs) | {ours:.3f} | "
           f"{stock:.3f} | {ours / stock:.3f} |")

    if not args.no_record:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        command = " ".join(["bench/engine.py", *sys.argv[1:]])
        # Other work on the machine slows every row alike; the load says how much to trust seconds.
        load = ", ".join(f"{value:.1f}" for value in (started_load, os.getloadavg()[0]))
        record(
            f"## Latest run ({when}, `{command}`, {os.cpu_count()} cores, 1-minute load average at "
            f"start and end: {load})\n\n" + "\n".join(lines)
        )
        print(f"\nrecorded in {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
