"""Mask quality: intersection over union against hand-drawn masks, per prompt and segmenter.

Run: .venv/bin/python bench/masks.py [--backends grabcut,isnet-small,isnet-medium] [--record]

Masks: every DesignEdit example mask in tests/data/designedit_examples (``maskN.jpg`` of
``0N.jpg``, else of ``0.jpg``) and the cat of ``skimage.data.chelsea()`` (tests/data/chelsea_cat_mask.png).
Prompts per mask: its box, its box grown by 10% of its size (5% on every side), and a click on the
point deepest inside it (distance transform). Backends: GrabCut, IS-Net small and medium (the
real weights, found like ``--segmenter isnet`` finds them, in ~/.cache/layeredit-models or
$LAYEREDIT_MODELS_DIR). Then the command itself: ``layeredit segment --segmenter isnet --point``
clicked on the soccer sample's ball and the Pikachu sample's apple, scored against their hand
masks (tests/data/soccer_ball_mask.png, the sample's apple.jpg). ``--record`` appends the tables
to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from layeredit.imageio import load_image  # noqa: E402
from layeredit.tools.grabcut import GrabCutSegmenter  # noqa: E402
from layeredit.tools.isnet import ISNET_FILES, IsNetSegmenter, models_dir  # noqa: E402
from layeredit.tools.masks import load_mask  # noqa: E402

DATA = REPO / "tests" / "data"
SAMPLES = REPO / "layeredit" / "samples"
PROMPTS = ("box", "box +10%", "click")
BACKENDS = ("grabcut", "isnet-small", "isnet-medium")


def cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, RGB picture, bool mask) for every hand-drawn mask."""
    found = []
    for mask_path in sorted((DATA / "designedit_examples").glob("*/*/mask*.jpg")):
        number = mask_path.stem.removeprefix("mask")
        named = [mask_path.with_name(f"{stem}.jpg") for stem in (f"0{number}", number, "0")]
        picture = next(p for p in named if p.exists())
        image = load_image(picture)
        name = f"{mask_path.parent.parent.name}/{mask_path.parent.name}/{mask_path.stem}"
        found.append((name, image, load_mask(mask_path, (image.shape[1], image.shape[0]))))
    from skimage.data import chelsea

    cat = chelsea()
    found.append(("chelsea cat", cat, load_mask(DATA / "chelsea_cat_mask.png", (cat.shape[1], cat.shape[0]))))
    return found


def mask_box(mask: np.ndarray, grow: float = 0.0) -> tuple[float, float, float, float]:
    """The mask's box (pixel edges), grown by ``grow`` of its width and height in all (half per side)."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    dx, dy = (x1 - x0) * grow / 2, (y1 - y0) * grow / 2
    height, width = mask.shape
    return max(0.0, x0 - dx), max(0.0, y0 - dy), min(float(width), x1 + dx), min(float(height), y1 + dy)


def deepest_point(mask: np.ndarray) -> tuple[int, int]:
    distance = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(x), int(y)


def iou(found: np.ndarray, truth: np.ndarray) -> float:
    union = (found | truth).sum()
    return float((found & truth).sum() / union) if union else 1.0


def make_backend(name: str) -> GrabCutSegmenter | IsNetSegmenter:
    if name == "grabcut":
        return GrabCutSegmenter()
    size = name.removeprefix("isnet-")
    path = models_dir() / f"isnet-{size}.onnx"
    if path.name not in ISNET_FILES or not path.is_file():
        raise SystemExit(f"{name}: no {path} (see ../shared/models/get-isnet)")
    return IsNetSegmenter(path)


def prompt_runs(mask: np.ndarray) -> dict[str, Callable[[GrabCutSegmenter | IsNetSegmenter], np.ndarray]]:
    box, grown, (x, y) = mask_box(mask), mask_box(mask, 0.10), deepest_point(mask)
    return {
        "box": lambda s: s.predict([box])[0],
        "box +10%": lambda s: s.predict([grown])[0],
        "click": lambda s: s.predict_point(x, y),
    }


def measure(backends: list[str]) -> tuple[list[tuple[str, str, str, float, float]], int]:
    """(case, backend, prompt, IoU, seconds) for every combination, and the number of cases."""
    rows = []
    all_cases = cases()
    for backend_name in backends:
        segmenter = make_backend(backend_name)
        for case, image, truth in all_cases:
            segmenter.set_image(image)
            for prompt, run in prompt_runs(truth).items():
                start = time.perf_counter()
                found = run(segmenter)
                seconds = time.perf_counter() - start
                rows.append((case, backend_name, prompt, iou(found, truth), seconds))
                print(f"{case:32s} {backend_name:13s} {prompt:9s} IoU {rows[-1][3]:.3f} {seconds:6.2f} s",
                      flush=True)  # fmt: skip
    return rows, len(all_cases)


def summary_table(rows: list[tuple[str, str, str, float, float]], backends: list[str]) -> list[str]:
    header = " | ".join(f"{p} median IoU" for p in PROMPTS)
    lines = [f"| backend | {header} | seconds per mask (median) |", "|---|" + "---|" * (len(PROMPTS) + 1)]
    for backend in backends:
        medians = [statistics.median(r[3] for r in rows if r[1] == backend and r[2] == p) for p in PROMPTS]
        seconds = statistics.median(r[4] for r in rows if r[1] == backend)
        lines.append(f"| {backend} | " + " | ".join(f"{m:.3f}" for m in medians) + f" | {seconds:.2f} |")
    return lines


def case_table(rows: list[tuple[str, str, str, float, float]], backends: list[str]) -> list[str]:
    lines = ["| mask | " + " | ".join(f"{b} {p}" for b in backends for p in PROMPTS) + " |",
             "|---|" + "---|" * (len(backends) * len(PROMPTS))]  # fmt: skip
    scores = {(r[0], r[1], r[2]): r[3] for r in rows}
    for case in dict.fromkeys(r[0] for r in rows):
        lines.append(
            f"| {case} | " + " | ".join(f"{scores[case, b, p]:.2f}" for b in backends for p in PROMPTS) + " |"
        )
    return lines


def segment_command_check() -> list[str]:
    """``layeredit segment --segmenter isnet --point NAME=X,Y`` on the samples, scored by IoU."""
    from click.testing import CliRunner

    from layeredit.cli import cli

    checks = [
        ("ball", SAMPLES / "soccer" / "image.jpg", DATA / "soccer_ball_mask.png"),
        ("apple", SAMPLES / "pikachu" / "image.jpg", SAMPLES / "pikachu" / "apple.jpg"),
    ]
    lines = ["| sample | click (deepest point) | IoU | seconds |", "|---|---|---|---|"]
    for name, picture, truth_path in checks:
        truth = load_mask(truth_path)
        x, y = deepest_point(truth)
        with tempfile.TemporaryDirectory() as out:
            args = ["segment", str(picture), "--segmenter", "isnet", "--point", f"{name}={x},{y}", "-o", out]
            start = time.perf_counter()
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
            seconds = time.perf_counter() - start
            if result.exit_code != 0:
                raise SystemExit(f"layeredit {' '.join(args)} failed: {result.output}")
            found = load_mask(Path(out) / f"{name}.png")
        score = iou(found, truth)
        print(
            f"layeredit segment --segmenter isnet --point {name}={x},{y}: IoU {score:.3f} ({seconds:.1f} s)"
        )
        lines.append(f"| {picture.parent.name} {name} | ({x}, {y}) | {score:.3f} | {seconds:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, from " + ", ".join(BACKENDS)
    )
    parser.add_argument("--record", action="store_true", help="append the tables to bench/RESULTS.md")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    load = os.getloadavg()[0]
    rows, count = measure(backends)
    summary, per_case = summary_table(rows, backends), case_table(rows, backends)
    check = segment_command_check() if "isnet-medium" in backends or "isnet-small" in backends else []
    print("\n".join(["", *summary, "", *per_case, "", *check]))
    if args.record:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        text = [
            "", "# Mask quality (bench/masks.py)", "",
            f"{count} hand-drawn masks (tests/data: DesignEdit examples and the chelsea cat), IoU of the "
            f"segmenter's mask; {platform.machine()}, {os.cpu_count()} cores, onnxruntime on CPU, "
            f"load average {load:.1f} at start, {when}. Seconds include the network runs a click needs "
            "to grow its crop.",
            "", *summary, "", *per_case, "",
        ]  # fmt: skip
        if check:
            text += ["`layeredit segment --segmenter isnet --point NAME=X,Y` on the samples:", "", *check, ""]
        with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as results:
            results.write("\n".join(text))


if __name__ == "__main__":
    main()
