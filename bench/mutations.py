"""Mutation check of the DesignEdit tests: break one mechanism at a time, see which tests notice.

Run: .venv/bin/python bench/mutations.py [--only NAME ...] [--maxfail 2]

Each mutation edits one line of a temporary copy of the repository's tracked files (the checkout
itself is never touched) and runs the engine tests there, with no ``../shared`` beside the copy.
The unmutated copy runs first and must pass. Prints a table: the mutation and the first tests
that failed (``--maxfail`` of them), or MISSED when every test passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIPELINE = "layeredit/engine/designedit/pipeline.py"
CONFIG = "layeredit/engine/designedit/config.py"
ENGINE = "layeredit/engine/designedit/engine.py"

# Instant checks first, then the oracle, then the rest: a run stops at --maxfail failures.
TESTS = [
    "tests/test_designedit_latents.py::test_config_windows_scale_with_steps",
    "tests/test_designedit_latents.py::test_key_mask_windows_start_at_step_2_and_end_on_their_last_step",
    "tests/test_engine_oracle.py",
    "tests/test_designedit_latents.py",
    "tests/test_designedit_engine.py::test_every_plan_op_runs_end_to_end[remove]",
]

# name -> (file, text to replace (must occur exactly once), replacement)
MUTATIONS: dict[str, tuple[str, str, str]] = {
    "key masking sends all-zero masks": (
        PIPELINE, "controller.set_masks(torch.cat([mask, torch.zeros_like(mask)]))",
        "controller.set_masks(torch.zeros_like(torch.cat([mask, mask])))"),
    "no inversion guidance": (
        PIPELINE,
        "latents = latents - config.inversion_guidance_rate * (latents - source[step]) * (1 - region)",
        "latents = latents"),
    "no latent blending": (
        PIPELINE, "latents = source[step] + (latents - source[step]) * region", "latents = latents"),
    "no fusion": (
        PIPELINE, "            latents, region = fuse(latents, scene.layers, step), scene.edited()",
        "            region = scene.edited()"),
    "no harmonising steps": (
        PIPELINE, "        fused = step > config.fusion_step\n",
        "        fused = step > config.fusion_step\n        if fused:\n            break\n"),
    "no pixel preservation": (ENGINE, "        if config.preserve_unedited:", "        if False:"),
    "no refine window": (
        PIPELINE, "if self.refine is not None and step <= config.refine_last:", "if False:"),
    "key mask starts a step early": (
        PIPELINE, "if step < config.key_mask_from:", "if step < config.key_mask_from - 1:"),
    "key mask starts a step late": (
        PIPELINE, "if step < config.key_mask_from:", "if step < config.key_mask_from + 1:"),
    "key mask ends a step early": (
        CONFIG, "return self.scaled(self.key_mask_until)", "return self.scaled(self.key_mask_until) - 1"),
    "key mask ends a step late": (
        CONFIG, "return self.scaled(self.key_mask_until)", "return self.scaled(self.key_mask_until) + 1"),
    "refine ends a step early": (
        CONFIG, "return self.scaled(self.refine_until)", "return self.scaled(self.refine_until) - 1"),
    "refine ends a step late": (
        CONFIG, "return self.scaled(self.refine_until)", "return self.scaled(self.refine_until) + 1"),
    "blending ends a step early": (
        CONFIG, "return self.scaled(self.blend_until)", "return self.scaled(self.blend_until) - 1"),
    "blending ends a step late": (
        CONFIG, "return self.scaled(self.blend_until)", "return self.scaled(self.blend_until) + 1"),
    "fusion a step early": (
        CONFIG, "return self.scaled(self.fusion_after)", "return self.scaled(self.fusion_after) - 1"),
    "fusion a step late": (
        CONFIG, "return self.scaled(self.fusion_after)", "return self.scaled(self.fusion_after) + 1"),
    "inversion guidance starts a step early": (
        PIPELINE, "int(timestep) < config.inversion_guidance_below",
        "int(timestep) < config.inversion_guidance_below + 1000 // config.steps"),
    "inversion guidance starts a step late": (
        PIPELINE, "int(timestep) < config.inversion_guidance_below",
        "int(timestep) < config.inversion_guidance_below - 1000 // config.steps"),
    "default key mask window 2..39": (CONFIG, "default=40,", "default=39,"),
    "default key mask from step 1": (CONFIG, "default=2,", "default=1,"),
    "default refine window 2..25": (CONFIG, "default=26,", "default=25,"),
    "default blend until 42": (CONFIG, "default=41,", "default=42,"),
    "default fusion after 41": (CONFIG, "default=42,", "default=41,"),
}


def copy_repository(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.splitlines()
    for name in files:
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def failed_tests(copy: Path, maxfail: int) -> list[str]:
    report = copy / "report.xml"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--maxfail={maxfail}",
         f"--junitxml={report}", *TESTS],
        cwd=copy, env=env, capture_output=True, text=True, timeout=1800,
    )
    failed = []
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these mutations (names as in the table)")
    parser.add_argument("--maxfail", type=int, default=2, help="stop a mutation's run after N failures")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the unmutated tests first")
    args = parser.parse_args()
    chosen = {name: m for name, m in MUTATIONS.items() if not args.only or name in args.only}
    with tempfile.TemporaryDirectory(prefix="layeredit-mutations-") as folder:
        copy = Path(folder) / "repo"  # no ../shared beside it
        copy_repository(copy)
        baseline = [] if args.skip_baseline else failed_tests(copy, args.maxfail)
        if baseline:
            sys.exit(f"the unmutated tests fail, fix them first: {baseline}")
        print("| mutation | caught by |\n|---|---|")
        for name, (relative, old, new) in chosen.items():
            path = copy / relative
            original = path.read_text()
            if original.count(old) != 1:
                sys.exit(f"mutation {name!r}: {old!r} occurs {original.count(old)} times in {relative}")
            path.write_text(original.replace(old, new))
            try:
                caught = failed_tests(copy, args.maxfail)
            finally:
                path.write_text(original)
            print(f"| {name} | {'<br>'.join(caught) if caught else 'MISSED'} |", flush=True)


if __name__ == "__main__":
    main()
