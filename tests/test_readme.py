"""Every shell and Python example of the README (and of docs/*.md) runs as written.

How the examples are run, which is also how to write them:

- Each ```sh block runs with ``bash -e -o pipefail`` and each ```python block with this
  interpreter, one subprocess per block, in a fresh temporary folder that holds a copy of
  ``layeredit/samples`` (so ``layeredit/samples/soccer/image.jpg`` works as written). PATH starts
  with this interpreter's folder (the ``layeredit`` command), stdin is empty, ``HF_HUB_OFFLINE=1``
  and no LLM API keys are set.
- A block fails when it exits non-zero, and when an output it names is missing afterwards:
  ``-o PATH``, ``--output PATH``, ``--save-layers DIR`` and the chat's ``save PATH``.
- ``<!-- readme: error-only -->`` on the line before a fence marks a block that needs what no test
  machine has (hub weights, detection models, an LLM key). Each of its commands is run on its own
  and must fail with one clean line: a sh command exits non-zero with exactly one line on stderr
  and no traceback; a Python block must raise a layeredit error (ValueError, LookupError, OSError
  or a class from the layeredit package) whose message is one line.
- The only rewrites, both explicit here:
  * ``make TARGET ...`` becomes ``make -n TARGET ...`` run in the repository: the targets exist
    and their recipes parse (running them would install packages or recurse into this suite);
  * a command with ``--engine designedit`` gets ``--model <tiny SDXL folder> --steps 4
    --resolution 64 --device cpu --no-progress-bar`` appended (click keeps the last value of a
    flag), the tiny model being a random-weight SDXL saved with ``save_pretrained``
    (tests/tiny_models.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]
ERROR_ONLY = "<!-- readme: error-only -->"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
RUNNABLE = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}
DIFFUSION_FLAGS = "--steps 4 --resolution 64 --device cpu --no-progress-bar"
OUTPUT_FLAG = re.compile(r"(?:^|\s)(?:-o|--output|--save-layers)[\s=]+(?P<path>[^\s'\"\\]+)")
CHAT_SAVE = re.compile(r"(?:^|\\n|['\"\s])save (?P<path>[^\s'\"\\]+)")
BLOCK_TIMEOUT = 300
WORKERS = 3  # the examples mostly wait on interpreter start-up; more than the cores is fine


@dataclass(frozen=True)
class Example:
    doc: Path
    line: int  # of the opening fence, 1-based
    language: str  # "sh" or "python"
    code: str
    error_only: bool

    @property
    def name(self) -> str:
        kind = "error-only" if self.error_only else "runs"
        return f"{self.doc.relative_to(REPO)}:{self.line}-{self.language}-{kind}"


def collect(doc: Path) -> list[Example]:
    """The runnable fenced blocks of ``doc``, with the marker on the line before each fence."""
    examples, lines = [], doc.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next((j for j in range(index + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"{doc.name}:{index + 1}: code fence never closed"
        language = RUNNABLE.get(opening["lang"])
        if language is not None:
            marker = lines[index - 1].strip() if index else ""
            code = "\n".join(lines[index + 1 : end]) + "\n"
            examples.append(Example(doc, index + 1, language, code, marker == ERROR_ONLY))
        index = end + 1
    return examples


EXAMPLES = [example for doc in DOCS for example in collect(doc)]


def commands(code: str) -> list[str]:
    """Logical shell commands: backslash continuations joined, blank lines and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def split_comment(command: str) -> tuple[str, str]:
    """``layeredit ... # note`` -> (``layeredit ...``, `` # note``); quotes are respected."""
    quote = None
    for position, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or command[position - 1].isspace()):
            return command[:position].rstrip(), " " + command[position:]
    return command, ""


def rewrite(command: str, tiny_model: Path | None) -> str:
    """The two substitutions of the module docstring."""
    code, comment = split_comment(command)
    if re.match(r"\s*make\s", code):
        return re.sub(r"^\s*make\s", f"make -n -C {shlex.quote(str(REPO))} ", code)
    if "--engine designedit" in code:
        assert tiny_model is not None
        code += f" --model {shlex.quote(str(tiny_model))} {DIFFUSION_FLAGS}"
    return code + comment


def outputs(code: str) -> list[str]:
    """The files and folders a block's commands (not its comments) say they write."""
    found = []
    for command in commands(code):
        command, _ = split_comment(command)
        found += [m["path"] for m in OUTPUT_FLAG.finditer(command)]
        if "layeredit chat" in command:
            found += [m["path"] for m in CHAT_SAVE.finditer(command)]
    return found


def environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_API_KEY") and key not in ("LAYEREDIT_LLM", "LAYEREDIT_DEBUG")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONPATH"] = str(REPO)
    return env


@dataclass
class Outcome:
    failures: list[str]
    commands: int


def run(command: list[str], folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=folder, env=environment(), stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=BLOCK_TIMEOUT,
    )  # fmt: skip


def shell(script: str) -> list[str]:
    return ["bash", "-e", "-o", "pipefail", "-c", script]


PYTHON_ERROR_CHECK = textwrap.dedent(
    """
    import runpy, sys, traceback
    try:
        runpy.run_path(sys.argv[1], run_name="__main__")
    except Exception as exc:
        ours = isinstance(exc, (ValueError, LookupError, OSError)) or type(exc).__module__.startswith(
            "layeredit")
        if not ours:
            traceback.print_exc()
            sys.exit(1)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    """
)


def one_line_error(done: subprocess.CompletedProcess) -> str | None:
    """Why ``done`` is not a clean one-line error, or None when it is."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode == 0:
        return "exited 0 (an error-only example must fail, with one clear line)"
    if "Traceback" in done.stderr or len(lines) != 1:
        return f"not one clean line on stderr:\n{done.stderr}"
    return None


def run_example(example: Example, tiny_model: Path | None) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="layeredit-readme-") as name:
        folder = Path(name)
        shutil.copytree(SAMPLES, folder / "layeredit" / "samples")
        failures: list[str] = []
        if example.language == "python":
            script = folder / "example.py"
            script.write_text(example.code)
            if example.error_only:
                check = folder / "check.py"
                check.write_text(PYTHON_ERROR_CHECK)
                reason = one_line_error(run([sys.executable, str(check), str(script)], folder))
                failures += [] if reason is None else [reason]
            else:
                done = run([sys.executable, str(script)], folder)
                if done.returncode != 0:
                    failures.append(f"exited {done.returncode}:\n{done.stderr[-3000:]}")
            return Outcome(failures, 1)
        lines = [rewrite(command, tiny_model) for command in commands(example.code)]
        if example.error_only:
            for line in lines:
                reason = one_line_error(run(shell(line), folder))
                if reason is not None:
                    failures.append(f"$ {line}\n{reason}")
            return Outcome(failures, len(lines))
        done = run(shell("\n".join(lines)), folder)
        if done.returncode != 0:
            failures.append(f"exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        else:
            missing = [path for path in outputs(example.code) if not (folder / path).exists()]
            failures += [f"did not write {path}" for path in missing]
        return Outcome(failures, len(lines))


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Outcome]]]:
    """The selected examples all started at once on a small pool; each test waits for its own."""
    selected = {
        item.callspec.params["example"].name
        for item in request.session.items
        if getattr(item, "function", None) is test_example
    }
    chosen = [example for example in EXAMPLES if example.name in selected]
    tiny_model = None
    if any("--engine designedit" in example.code for example in chosen):
        from tests.tiny_models import save_tiny_sdxl

        tiny_model = save_tiny_sdxl(tmp_path_factory.mktemp("readme-model") / "tiny-sdxl")
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        # Slowest first (the diffusion examples), so the pool drains evenly.
        chosen.sort(key=lambda example: "--engine designedit" not in example.code)
        yield {example.name: pool.submit(run_example, example, tiny_model) for example in chosen}


def test_the_conventions_markers_outputs_and_rewrites(tmp_path):
    doc = tmp_path / "DOC.md"
    doc.write_text(
        "Intro.\n\n```sh\nmake demo   # all of it\nlayeredit edit a.jpg 'remove the # sign' \\\n"
        "    -o out.png --engine designedit  # slow\n```\n\n"
        f"{ERROR_ONLY}\n```python\nraise ValueError('no')\n```\n\n```json\n{{}}\n```\n"
    )
    shell_block, python_block = collect(doc)
    assert (shell_block.line, shell_block.error_only, python_block.error_only) == (3, False, True)
    make, edit = (rewrite(command, Path("/tiny")) for command in commands(shell_block.code))
    assert make == f"make -n -C {shlex.quote(str(REPO))} demo"
    assert edit.endswith(f"--engine designedit --model /tiny {DIFFUSION_FLAGS} # slow")
    assert "'remove the # sign'" in edit
    assert outputs(shell_block.code) == ["out.png"]
    assert outputs("printf 'move it\\nsave a.png\\n' | layeredit chat --resume x.chat") == ["a.png"]


def test_an_error_only_example_must_fail_in_one_line():
    clean = subprocess.CompletedProcess([], 2, "", "error: no mask for 'boy'\n")
    assert one_line_error(clean) is None
    assert "exited 0" in one_line_error(subprocess.CompletedProcess([], 0, "", ""))
    traceback = "Traceback (most recent call last):\n  ...\nValueError: no\n"
    assert "not one clean line" in one_line_error(subprocess.CompletedProcess([], 1, "", traceback))


def test_the_readme_has_examples_of_both_kinds():
    assert any(not example.error_only for example in EXAMPLES)
    assert all(example.code.strip() for example in EXAMPLES), "an empty example block"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_example(example: Example, outcomes: dict[str, Future[Outcome]]):
    outcome = outcomes[example.name].result()
    assert not outcome.failures, f"{example.name}:\n{example.code}\n" + "\n\n".join(outcome.failures)


def test_count(outcomes: dict[str, Future[Outcome]], capsys: pytest.CaptureFixture[str]):
    """The tally of the examples selected in this session, printed even without -s."""
    ran = [name for name in outcomes if name.endswith("-runs")]
    checked = [name for name in outcomes if name.endswith("-error-only")]
    commands = sum(future.result().commands for future in outcomes.values())
    with capsys.disabled():
        print(
            f"\ndocumentation examples: {len(ran)} blocks ran, {len(checked)} error-only "
            f"({commands} commands or scripts) from {', '.join(d.name for d in DOCS)}"
        )
    assert len(ran) + len(checked) == len(outcomes)
