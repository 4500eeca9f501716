"""Batch throughput: edits per minute of `layeredit batch` (1 and 2 worker processes, Ray with 2
actors) against a loop of single `layeredit edit` calls, on the same manifest in one run.

Run: .venv/bin/python bench/batch.py [--lines 8] [--steps 4] [--resolution 128] [--record]

Engine: designedit with the mid-size random-weight SDXL-shaped model of bench/engine.py, saved to a
temporary folder and loaded by path like real weights. Every run is pinned to one torch thread per
process (OMP_NUM_THREADS=1), so the pictures of every mode must be identical, and are compared.
``--record`` appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ["OMP_NUM_THREADS"] = "1"  # before torch loads, here and in every child process

from engine import mid_size_sdxl  # noqa: E402 - the benchmark model of bench/engine.py

from layeredit.batch import RunSettings, edit_many  # noqa: E402
from layeredit.batch.editor import Editor  # noqa: E402
from layeredit.imageio import load_image  # noqa: E402

SAMPLES = REPO / "layeredit" / "samples"
EDITS = [
    ("soccer/image.jpg", "move the boy to the left", {"boy": "soccer/boy.jpg"}),
    ("pikachu/image.jpg", "remove the apple", {"apple": "pikachu/apple.jpg"}),
    ("soccer/image.jpg", "make the boy bigger", {"boy": "soccer/boy.jpg"}),
    ("pikachu/image.jpg", "remove the sunglasses", {"sunglasses": "pikachu/sunglasses.jpg"}),
]


def write_manifest(folder: Path, lines: int) -> list[dict]:
    records = []
    for number in range(1, lines + 1):
        image, instruction, masks = EDITS[(number - 1) % len(EDITS)]
        records.append({
            "image": str(SAMPLES / image), "instruction": instruction,
            "masks": {name: str(SAMPLES / path) for name, path in masks.items()},
        })  # fmt: skip
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def layeredit(*args: object) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "layeredit.cli", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"layeredit {args[0]} failed: {done.stderr.strip().splitlines()[-1]}")
    return time.perf_counter() - start


def pictures(out: Path) -> dict[str, np.ndarray]:
    return {p.name: load_image(p) for p in sorted(out.glob("*.png"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="layeredit-bench-batch-"))
    model = work / "model"
    mid_size_sdxl(work / "build").save_pretrained(model)
    records = write_manifest(work, args.lines)
    tuning = ["--steps", args.steps, "--resolution", args.resolution, "--device", "cpu"]
    engine = ["--engine", "designedit", "--model", model, *tuning]

    settings = RunSettings("designedit", str(model), "cpu")
    loads = []
    for _ in range(3):
        loads.append(Editor(settings, work).load_seconds)
    load = float(np.median(loads))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, diffusers, layeredit.cli"], check=True)
    imports = time.perf_counter() - start

    rows: list[tuple[str, float, Path]] = []
    loop_out = work / "loop"
    loop_out.mkdir()
    seconds = 0.0
    for number, record in enumerate(records, start=1):
        masks = [f"--mask={name}={path}" for name, path in record["masks"].items()]
        target = loop_out / f"{number}-{Path(record['image']).stem}.png"
        seconds += layeredit("edit", record["image"], record["instruction"], "-o", target, *masks, *engine,
                             "--no-progress-bar")  # fmt: skip
    rows.append(("loop of `layeredit edit`", seconds, loop_out))
    for workers in (1, 2):
        out = work / f"workers-{workers}"
        rows.append((f"`layeredit batch --workers {workers}`", layeredit(
            "batch", work / "manifest.jsonl", "-o", out, "--workers", workers, *engine), out))  # fmt: skip

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    cluster = time.perf_counter() - start
    out = work / "ray-2"
    start = time.perf_counter()
    options = {"steps": args.steps, "resolution": args.resolution}
    results = list(edit_many(work / "manifest.jsonl", out, workers=2, ray=True, engine="designedit",
                             model=str(model), device="cpu", options=options))  # fmt: skip
    rows.append(("Ray, 2 actors (`edit_many`, cluster already up)", time.perf_counter() - start, out))
    ray.shutdown()
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.error]

    reference = pictures(loop_out)
    lines = [
        f"{args.lines} edits (designedit, mid-size random-weight SDXL-shaped model, {args.steps} steps at "
        f"{args.resolution} px, 512x512 inputs), one torch thread per process, "
        f"{os.cpu_count()} cores, {platform.machine()}, {datetime.date.today()}.",
        "",
        "| mode | seconds | edits/min | vs loop | same pictures |",
        "|---|---|---|---|---|",
    ]
    for name, took, out in rows:
        found = pictures(out)
        same = found.keys() == reference.keys() and all(np.array_equal(found[k], reference[k]) for k in found)
        lines.append(
            f"| {name} | {took:.1f} | {args.lines / took * 60:.1f} | {rows[0][1] / took:.2f}x | "
            f"{'yes' if same else 'NO'} |"
        )
    lines += [
        "",
        f"One-time costs: model load {load:.2f} s (median of 3, in-process), python + torch + diffusers "
        f"import {imports:.2f} s per process, local Ray cluster start {cluster:.1f} s.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.record:
        with (REPO / "bench" / "RESULTS.md").open("a") as results_file:
            results_file.write(f"\n# Batch throughput (bench/batch.py)\n\n{table}\n")


if __name__ == "__main__":
    main()
