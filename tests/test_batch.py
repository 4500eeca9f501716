"""`layeredit batch` and `edit_many`: the same pictures as single `layeredit edit` runs, resumable
after kill -9, spread over worker processes or a Ray cluster whose actors may die."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from PIL import Image

from layeredit.batch import Batch, RunSettings, edit_many, read_manifest
from layeredit.batch.local import worker_device
from layeredit.cli import cli
from layeredit.errors import InputError, ManifestError
from layeredit.imageio import load_image
from layeredit.tools.masks import bbox, load_mask
from tests.conftest import SAMPLES
from tests.tiny_models import save_tiny_sdxl

DIFFUSION = ["--steps", "2", "--resolution", "64", "--device", "cpu"]
BAD_LINES = {4: "image not found: photos/missing.png", 9: 'not supported: "paint it like van gogh"'}


def plan(*operations: dict) -> dict:
    return {"operations": list(operations)}


def manifest_records(box: list[int]) -> list[dict]:
    """Twelve edits of two small pictures; lines 4 and 9 are bad."""
    pika, soccer = "photos/pika.png", "photos/soccer.png"
    apple, boy = {"apple": "photos/apple.png"}, {"boy": "photos/boy.png"}
    glasses = {"sunglasses": "photos/glasses.png"}
    return [
        {"image": pika, "instruction": "remove the apple", "masks": apple},
        {"image": pika, "instruction": "move the apple left", "masks": apple, "options": {"seed": 3}},
        {"image": soccer, "instruction": "move the boy to the left", "masks": boy, "output": "boy-left.png"},
        {"image": "photos/missing.png", "instruction": "remove the apple", "masks": apple},
        {"image": soccer, "plan": plan({"op": "flip", "target": {"phrase": "boy"}}), "masks": boy},
        {"image": pika, "instruction": "remove the sunglasses", "masks": glasses},
        {"image": pika, "instruction": "remove the apple", "boxes": {"apple": box}, "output": "box.jpg"},
        {"image": soccer, "instruction": "make the boy bigger", "masks": boy},
        {"image": pika, "instruction": "paint it like van gogh", "masks": apple},
        {"image": pika, "instruction": "duplicate the apple to the right", "masks": apple},
        {"image": soccer, "instruction": "move the boy up", "masks": boy, "output": "sub/boy-up.png"},
        {
            "image": pika,
            "plan": plan({"op": "swap", "target": {"phrase": "apple"}, "other": {"phrase": "sunglasses"}}),
            "masks": {**apple, **glasses},
        },
    ]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifest with its pictures (128x128 copies of the bundled samples)."""
    root = tmp_path_factory.mktemp("batch")
    (root / "photos").mkdir()
    copies = {
        "pika": "pikachu/image.jpg", "apple": "pikachu/apple.jpg", "glasses": "pikachu/sunglasses.jpg",
        "soccer": "soccer/image.jpg", "boy": "soccer/boy.jpg",
    }  # fmt: skip
    for name, source in copies.items():
        with Image.open(SAMPLES / source) as picture:
            picture.convert("RGB").resize((128, 128), Image.Resampling.LANCZOS).save(
                root / f"photos/{name}.png"
            )
    box = [int(v) for v in bbox(load_mask(root / "photos/apple.png"))]
    records = manifest_records(box)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_sdxl(tmp_path_factory.mktemp("model") / "tiny-sdxl")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Pixels are bit-identical only at the same torch thread count: pin it here and in children."""
    threads, variable = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(threads)
    if variable is None:
        del os.environ["OMP_NUM_THREADS"]
    else:
        os.environ["OMP_NUM_THREADS"] = variable


def single_edit_args(folder: Path, number: int, record: dict, out: Path) -> list[str]:
    """The `layeredit edit` command line that does what one manifest line asks."""
    instruction = record.get("instruction") or json.dumps(record["plan"])
    args = ["edit", str(folder / record["image"]), instruction, "-o", str(out)]
    for name, path in record.get("masks", {}).items():
        args += ["--mask", f"{name}={folder / path}"]
    for name, box in record.get("boxes", {}).items():
        args += ["--box", f"{name}={','.join(map(str, box))}"]
    return args


def output_name(number: int, record: dict) -> str:
    return record.get("output") or f"{number}-{Path(record['image']).stem}.png"


def single_edits(folder: Path, out: Path, engine_args: list[str], seeds: bool) -> dict[str, np.ndarray]:
    """Each good line through `layeredit edit` (in this process), by output name."""
    pictures = {}
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    for number, record in enumerate(map(json.loads, lines), start=1):
        if number in BAD_LINES:
            continue
        target = out / output_name(number, record)
        target.parent.mkdir(parents=True, exist_ok=True)
        args = single_edit_args(folder, number, record, target) + engine_args
        if seeds and "seed" in record.get("options", {}):
            args += ["--seed", str(record["options"]["seed"])]
        cli.main(args, standalone_mode=False)
        pictures[target.relative_to(out).as_posix()] = load_image(target)
    return pictures


@pytest.fixture(scope="module")
def pixel_refs(folder: Path) -> dict[str, np.ndarray]:
    return single_edits(folder, folder / "refs-pixel", [], seeds=False)


@pytest.fixture(scope="module")
def diffusion_refs(folder: Path, model: Path) -> dict[str, np.ndarray]:
    engine = ["--engine", "designedit", "--model", str(model), "--no-progress-bar", *DIFFUSION]
    return single_edits(folder, folder / "refs-diffusion", engine, seeds=True)


def layeredit(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "layeredit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def assert_same_pictures(out: Path, refs: dict[str, np.ndarray]) -> None:
    for name, expected in refs.items():
        np.testing.assert_array_equal(load_image(out / name), expected, err_msg=name)


def assert_all_lines_recorded_once(out: Path) -> list[dict]:
    found = records(out)
    assert sorted(r["line"] for r in found) == list(range(1, 13))
    for record in found:
        if record["line"] in BAD_LINES:
            assert record["status"] == "error" and BAD_LINES[record["line"]] in record["error"]
        else:
            assert record["status"] in ("ok", "skipped"), record
    return found


def test_pixel_batch_matches_single_edits_resumes_and_splits_over_workers(folder, pixel_refs, tmp_path):
    out = tmp_path / "out"
    done = layeredit("batch", folder / "manifest.jsonl", "-o", out)
    assert done.returncode == 1, done.stderr  # two lines failed
    assert "12 lines: 10 done, 2 failed (lines 4, 9)" in done.stderr
    assert "line 4: image not found: photos/missing.png" in done.stderr
    assert "edit/s" in done.stderr  # the progress bar's rate
    first = assert_all_lines_recorded_once(out)
    assert {r["status"] for r in first if r["line"] not in BAD_LINES} == {"ok"}
    by_line = {r["line"]: r for r in first}
    assert by_line[1]["plan"] == {"operations": [{"op": "remove", "target": {"phrase": "apple"}}]}
    assert by_line[3]["output"] == "boy-left.png" and by_line[5]["output"] == "5-soccer.png"
    assert_same_pictures(out, pixel_refs)
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.*") if p.suffix != ".jsonl"}
    assert len(written) == 10

    again = layeredit("batch", folder / "manifest.jsonl", "-o", out)
    assert again.returncode == 1
    assert "12 lines: 10 done (10 by an earlier run), 2 failed" in again.stderr
    assert {r["status"] for r in assert_all_lines_recorded_once(out) if r["line"] not in BAD_LINES} == {
        "skipped"
    }
    assert {p: p.stat().st_mtime_ns for p in written} == written  # nothing redone

    split = tmp_path / "split"
    done = layeredit("batch", folder / "manifest.jsonl", "-o", split, "--workers", "2")
    assert done.returncode == 1, done.stderr
    assert_all_lines_recorded_once(split)
    assert_same_pictures(split, pixel_refs)


def finished_lines(out: Path) -> dict[int, dict]:
    """Lines recorded as done so far (a torn last line of a killed run does not count)."""
    path = out / "results.jsonl"
    found = {}
    for text in path.read_text().splitlines() if path.is_file() else []:
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            continue
        if record["status"] == "ok":
            found[record["line"]] = record
    return found


def test_diffusion_batch_killed_midway_finishes_on_rerun_without_redoing(
    folder, model, diffusion_refs, tmp_path
):
    out = tmp_path / "out"
    args = ["batch", folder / "manifest.jsonl", "-o", out, "--engine", "designedit"]
    args += ["--model", model, *DIFFUSION]
    command = [sys.executable, "-m", "layeredit.cli", *map(str, args)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while len(finished_lines(out)) < 3:
            assert run.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.02)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    before = finished_lines(out)
    assert 3 <= len(before) < 10
    written = {line: (out / r["output"]).stat().st_mtime_ns for line, r in before.items()}

    # The rest is finished by two worker processes: their pictures match the single runs too.
    done = layeredit(*args, "--workers", "2")
    assert done.returncode == 1, done.stderr
    assert f"12 lines: 10 done ({len(before)} by an earlier run), 2 failed (lines 4, 9)" in done.stderr
    found = assert_all_lines_recorded_once(out)
    assert {r["line"] for r in found if r["status"] == "skipped"} == set(before)
    assert {line: (out / before[line]["output"]).stat().st_mtime_ns for line in before} == written
    assert_same_pictures(out, diffusion_refs)


def actor_pids() -> list[int]:
    """Processes of the batch's Ray editor actors."""
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any("RayEditor" in part for part in p.info["cmdline"] or [])
    ]


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    # address="local": a cluster of the test's own, even when another one runs on this machine.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_actor_killed_midway_is_replaced_and_nothing_is_lost(
    folder, model, diffusion_refs, ray_cluster, tmp_path
):
    out = tmp_path / "out"
    results, killed = [], []
    options = {"steps": 2, "resolution": 64}
    for result in edit_many(
        folder / "manifest.jsonl", out, workers=2, ray=True, engine="designedit",
        model=str(model), device="cpu", options=options,
    ):  # fmt: skip
        results.append(result)
        if result.status == "ok" and not killed:
            killed = actor_pids()[:1]
            assert killed, "no editor actor found"
            os.kill(killed[0], signal.SIGKILL)
    assert not psutil.pid_exists(killed[0])
    assert sorted(r.line for r in results) == list(range(1, 13))
    assert [r.line for r in results if r.status == "error"] == sorted(BAD_LINES)
    assert_all_lines_recorded_once(out)
    assert_same_pictures(out, diffusion_refs)


def problems(folder: Path, *lines: str, name: str = "bad.jsonl") -> dict[int, str]:
    """What a dry run says about each line of a manifest written next to the test pictures."""
    manifest = folder / name
    manifest.write_text("\n".join(lines) + "\n")
    batch = Batch.from_manifest(manifest, folder / "never-written", RunSettings())
    return {failure.line: failure.error for failure in batch.invalid}


def test_bad_lines_are_named_with_their_line_number_and_what_is_wrong(folder):
    good = '{"image": "photos/pika.png", "instruction": "remove the apple", '
    good += '"masks": {"apple": "photos/apple.png"}'
    found = problems(
        folder,
        good + "}",
        good + ', "output": "x.png"}',
        good + ', "output": "x.png"}',
        '{"image": "photos/pika.png", "instruction": "remove the apple"',
        '{"image": "photos/pika.png", "instruction": "remove the apple", "plan": {}}',
        '{"image": "photos/pika.png", "instrution": "remove the apple"}',
        good + ', "options": {"steps": "four"}}',
        good + ', "options": {"stepz": 4}}',
        good + ', "options": {"steps": 0}}',
        '{"image": "photos/pika.png", "instruction": "remove the apple", "boxes": {"apple": [5, 5, 1, 9]}}',
        '{"image": "photos/pika.png", "plan": {"operations": [{"op": "explode"}]}}',
        good + ', "output": "../escape.png"}',
        "",
        good.replace("apple.png", "pear.png") + "}",
        "[1, 2]",
    )
    assert 1 not in found and 2 not in found
    assert found[3] == "output 'x.png' is also written by line 2"
    assert found[4].startswith("not valid JSON")
    assert found[5] == "give either 'instruction' or 'plan' (not both, not neither)"
    assert found[6].startswith("unknown field 'instrution'; the fields are image, instruction, plan")
    assert found[7] == "option 'steps' must be an int, got 'four'"
    assert found[8].startswith("unknown option 'stepz'; options are")
    assert found[9] == "steps must be at least 1, got 0"
    assert found[10] == "box 'apple' is empty: need x1 > x0 and y1 > y0"
    assert "explode" in found[11]
    assert found[12] == "output '../escape.png' must be a name inside the output folder"
    assert 13 not in found  # blank lines are skipped
    assert (
        found[14] == "mask 'apple' not found: photos/pear.png (paths are relative to the manifest's folder)"
    )
    assert found[15] == "expected a JSON object, got list"
    assert not (folder / "never-written").exists()


def test_csv_manifest_cells_take_pairs_or_json(folder):
    found = problems(
        folder,
        "image,instruction,masks,boxes,options,output",
        "photos/pika.png,remove the apple,apple=photos/apple.png,,seed=2; steps=3,a.png",
        'photos/pika.png,remove the apple,,"apple=10,10,60,60",,b.png',
        'photos/pika.png,remove the apple,"{""apple"": ""photos/apple.png""}",,,c.png',
        "photos/pika.png,remove the apple,apple,,,d.png",
        name="m.csv",
    )
    assert found == {5: "column 'masks' expects NAME=VALUE pairs separated by ';', got 'apple'"}
    first = read_manifest(folder / "m.csv")[0]
    assert first.number == 2
    assert first.fields["options"] == {"seed": 2, "steps": 3}
    assert read_manifest(folder / "m.csv")[1].fields["boxes"] == {"apple": [10.0, 10.0, 60.0, 60.0]}
    (folder / "cols.csv").write_text("picture,instruction\na.png,remove it\n")
    with pytest.raises(
        ManifestError, match=r"cols.csv line 1: unknown column 'picture'; the columns are image"
    ):
        read_manifest(folder / "cols.csv")


def test_dry_run_checks_every_line_and_loads_nothing(folder, capsys):
    out = folder / "dry-out"
    with pytest.raises(SystemExit) as stop:
        cli.main(
            ["batch", str(folder / "manifest.jsonl"), "-o", str(out), "--dry-run"], standalone_mode=False
        )
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "line 4: image not found: photos/missing.png" in err
    assert "12 lines checked: 10 to run, 0 already done in" in err and "2 with problems" in err
    assert not out.exists()


def test_each_worker_gets_its_own_gpu_unless_one_was_named():
    assert [worker_device(None, index, 2) for index in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert worker_device("cuda", 3, 4) == "cuda:3"
    assert worker_device("cuda:2", 0, 4) == "cuda:2"
    assert worker_device("cpu", 1, 4) == "cpu"
    assert worker_device(None, 1, 1) is None  # one GPU or none: the default device


def test_without_ray_the_flag_says_how_to_install_it(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(InputError, match=r"not installed: pip install 'layeredit\[ray\]'"):
        list(edit_many(folder / "manifest.jsonl", folder / "no-ray", ray=True))
