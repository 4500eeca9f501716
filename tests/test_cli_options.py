"""Options declared once: every command that runs an engine takes every engine option, and the
options reach the engine whichever interface gathered them."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from click.testing import CliRunner

from layeredit.api import edit
from layeredit.batch.jobs import check_options
from layeredit.cli import cli
from layeredit.cli_options import flag_name
from layeredit.engine.designedit.deferred import DeferredDesignEdit
from layeredit.engine.options import OPTION_CLASSES, EngineOptions, make_engine
from layeredit.engine.pixel import PixelEngine
from layeredit.errors import InputError
from layeredit.layered import compose, decompose

ENGINE_FLAGS = {f"--{flag_name(field)}" for cls in OPTION_CLASSES for field in dataclasses.fields(cls)}
ENGINE_COMMANDS = ["decompose", "compose", "chat", "serve", "batch", "mcp"]


def engine_flags_in_help(command: str) -> set[str]:
    shown = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    return set(re.findall(r"^\s+(--[a-z-]+)", shown.output, re.MULTILINE)) & ENGINE_FLAGS


def test_edit_lists_every_engine_option():
    assert engine_flags_in_help("edit") == ENGINE_FLAGS
    assert {"--steps", "--seed", "--resolution", "--hd-strategy", "--model", "--device"} <= ENGINE_FLAGS


@pytest.mark.parametrize("command", ENGINE_COMMANDS)
def test_every_command_that_runs_an_engine_lists_the_engine_options_of_edit(command):
    assert engine_flags_in_help(command) == engine_flags_in_help("edit")


def test_model_is_declared_once():
    shown = CliRunner().invoke(cli, ["edit", "--help"], terminal_width=200).output
    assert len(re.findall(r"^\s+--model\b", shown, re.MULTILINE)) == 1


def test_engine_options_reach_the_diffusion_engine_without_loading_it():
    options = EngineOptions.build(
        {"engine": "designedit", "model": "some/model", "device": "cpu", "steps": 7, "seed": 3,
         "feather": 5.0, "hd_strategy": "crop", "hd_crop_margin": 10.0, "resolution": None}
    )  # fmt: skip
    engine = make_engine(options)
    assert isinstance(engine, DeferredDesignEdit) and engine._engine is None
    assert (engine.model, engine.device) == ("some/model", "cpu")
    assert (engine.config.steps, engine.config.seed) == (7, 3)
    assert engine.params.feather == 5.0
    assert (engine.resolution.hd_strategy, engine.resolution.hd_crop_margin) == ("crop", 10.0)
    assert engine.config.resolution == EngineOptions().designedit.resolution  # None: the default stays


def test_unknown_and_bad_engine_options_are_one_clear_error():
    with pytest.raises(InputError, match="unknown engine option 'stepz'"):
        EngineOptions.build({"stepz": 3})
    with pytest.raises(InputError, match="unknown hd strategy 'sideways'"):
        EngineOptions.build({"hd_strategy": "sideways"})


def test_diffusion_options_with_the_pixel_engine_are_named():
    options = EngineOptions.build({"steps": 3, "hd_strategy": "crop", "feather": 2.0, "model": "m"})
    assert options.diffusion_only() == ["steps", "model"]
    assert options.tuning() == {"steps": 3, "hd_strategy": "crop", "feather": 2.0}


def test_the_engine_resolution_reaches_edit_and_compose(soccer, tmp_path):
    image, boy = soccer
    engine = make_engine(EngineOptions.build({"hd_strategy": "resize"}))
    assert isinstance(engine, PixelEngine)
    assert edit(image, "remove the boy", masks={"boy": boy}, engine=engine).stats["hd_strategy"] == "resize"
    # A strategy named by the caller wins, and keeps the engine's other resolution options.
    named = edit(image, "remove the boy", masks={"boy": boy}, engine=engine, hd_strategy="original")
    assert named.stats["hd_strategy"] == "original"

    folder = tmp_path / "scene"
    decompose(image, masks={"boy": boy}, soft_edges=False, engine=engine).save(folder)
    scene = json.loads((folder / "scene.json").read_text())
    for layer in scene["layers"]:
        layer["visible"] = layer["name"] != "boy"  # hidden in a design tool: compose removes it
    (folder / "scene.json").write_text(json.dumps(scene))
    composed = compose(folder, engine=engine)
    assert composed.plan is not None and composed.result.stats["hd_strategy"] == "resize"


def test_batch_lines_take_the_resolution_options():
    assert check_options({"hd_strategy": "crop", "steps": 4}) == {"hd_strategy": "crop", "steps": 4}
    with pytest.raises(InputError, match="option 'hd_strategy' must be one of auto, crop, resize, original"):
        check_options({"hd_strategy": "sideways"})
