"""The engine against the literal oracle (tests/oracle_designedit.py), edit by edit, step for step.

Both run the same tiny random SDXL on the same compiled scene with the engine's documented choices
(source and object branches read from the inverted trajectory, hole-only inversion-guidance mask,
no canvas guidance unless ``guide_canvas``); they must agree to float noise. A mechanism missing
or a window off by one step on either side moves the latents by far more than the tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine
from layeredit.engine.layers import LayerStack
from layeredit.engine.scene import compile_scene
from layeredit.imageio import load_image
from layeredit.plan import EditPlan
from layeredit.tools.masks import load_mask
from tests.conftest import example
from tests.oracle_designedit import OracleChoices, OracleWindows, oracle_edit
from tests.test_designedit_engine import _with_foreign
from tests.tiny_models import tiny_sdxl

# 15 steps keep the windows apart: key masking 2..12, refine 2..8, blending 1..12, fusion after
# 13, inversion guidance from step 9 (t < 400), two harmonising steps.
STEPS = 15
# Float32 noise (SDPA against eager softmax, other batch sizes) grown by the 7.5x guidance: ~1e-4.
LATENT_TOLERANCE = 5e-4
PIXEL_TOLERANCE = 1  # uint8 levels after decoding and resizing


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory):
    return tiny_sdxl(tmp_path_factory.mktemp("oracle"))


def _ball() -> LayerStack:
    image = load_image(example("moving/01_ball/0.jpg"))
    return LayerStack(image=image, objects={"ball": [load_mask(example("moving/01_ball/mask0.jpg"))]})


def _ring_with_refine() -> LayerStack:
    folder = "remove/02_ring"
    image = load_image(example(f"{folder}/0.jpg"))
    refine = np.zeros(image.shape[:2], bool)
    refine[40:120, 60:300] = True
    return LayerStack(image=image, objects={"ring": [load_mask(example(f"{folder}/mask0.jpg"))]},
                      refine_mask=refine)


def _three_layers() -> LayerStack:
    return _with_foreign(_ball(), ("layer/03_text/01.jpg", "layer/03_text/mask1.jpg"),
                         ("layer/01_horse/00.jpg", "layer/01_horse/mask0.jpg"))


EDITS = {
    "removal": (_ball, [{"op": "remove", "target": {"phrase": "ball"}}]),
    "move": (_ball, [{"op": "move", "target": {"phrase": "ball"}, "dx": -0.2, "dy": 0.1}]),
    "resize+flip": (_ball, [{"op": "resize", "target": {"phrase": "ball"}, "scale": 1.4},
                            {"op": "flip", "target": {"phrase": "ball"}}]),
    "three layers, two from other pictures": (_three_layers, [
        {"op": "move", "target": {"phrase": "ball"}, "dx": -0.2},
        {"op": "insert", "source": "layer/03_text/01.jpg", "target": {"phrase": "thing"}, "dx": 0.1},
        {"op": "insert", "source": "layer/01_horse/00.jpg", "target": {"phrase": "thing"}, "dx": -0.1},
    ]),
    "pan": (_ball, [{"op": "pan", "dx": 0.2}]),
    "zoom-out": (_ball, [{"op": "zoom_out", "scale": 0.75}]),
    "refine mask": (_ring_with_refine, [{"op": "remove", "target": {"phrase": "ring"}}]),
}


PAPER_WINDOWS = OracleWindows()


def _compare(pipe, stack: LayerStack, operations: list[dict], windows: OracleWindows = PAPER_WINDOWS,
             **overrides) -> tuple[float, int]:
    config = DesignEditConfig(steps=STEPS, resolution=64, progress_bar=False, **overrides)
    engine = DesignEditEngine(pipe, config, model_id="tiny")
    scene = compile_scene(stack, EditPlan.parse({"operations": operations}), engine.params)
    latents: dict[int, torch.Tensor] = {}
    rendering = engine.render(scene, on_step=lambda step, x: latents.__setitem__(step, x.clone()))
    expected = oracle_edit(pipe, scene, config, OracleChoices.engine(config), windows)
    latent_error = float((latents[STEPS] - expected.latent).abs().max())
    pixel_error = int(np.abs(rendering.image.astype(int) - expected.image.astype(int)).max())
    return latent_error, pixel_error


@pytest.mark.parametrize("name", list(EDITS))
def test_engine_matches_the_literal_oracle(pipe, name: str) -> None:
    make_stack, operations = EDITS[name]
    latent_error, pixel_error = _compare(pipe, make_stack(), operations)
    print(f"\n{name}: worst latent difference {latent_error:.2e} (tolerance {LATENT_TOLERANCE:.0e}), "
          f"worst pixel difference {pixel_error} (tolerance {PIXEL_TOLERANCE})")
    assert latent_error <= LATENT_TOLERANCE
    assert pixel_error <= PIXEL_TOLERANCE


def test_engine_matches_the_oracle_with_canvas_guidance_switched_on(pipe) -> None:
    latent_error, pixel_error = _compare(pipe, _ball(), EDITS["move"][1], guide_canvas=True)
    print(f"\nguide_canvas: worst latent difference {latent_error:.2e} (tolerance {LATENT_TOLERANCE:.0e})")
    assert latent_error <= LATENT_TOLERANCE and pixel_error <= PIXEL_TOLERANCE


def test_inversion_guidance_starts_where_the_timestep_falls_below_the_threshold(pipe) -> None:
    # At the default t < 400 guidance starts inside the blend window, where blending overrides it;
    # t < 100 starts it on step 14 (t = 67), after fusion, where a step earlier or later shows.
    late = OracleWindows(guidance_below_t=100)
    removal = EDITS["removal"][1]
    latent_error, pixel_error = _compare(pipe, _ball(), removal, late, inversion_guidance_below=100)
    print(f"\nguidance below t=100: worst latent difference {latent_error:.2e}")
    assert latent_error <= LATENT_TOLERANCE and pixel_error <= PIXEL_TOLERANCE


def test_the_quantile_edit_mask_and_the_hole_agree_when_the_source_is_the_inversion(pipe) -> None:
    # The engine's hole-only mask stands in for the reference's quantile mask: blending overrides
    # guidance outside the hole, and where nothing is key-masked the guidance difference is zero.
    config = DesignEditConfig(steps=STEPS, resolution=64, progress_bar=False)
    stack, operations = _ball(), EDITS["removal"][1]
    scene = compile_scene(stack, EditPlan.parse({"operations": operations}))
    hole = oracle_edit(pipe, scene, config, OracleChoices(guidance_mask="hole"))
    quantile = oracle_edit(pipe, scene, config, OracleChoices(guidance_mask="quantile"))
    assert float((hole.latent - quantile.latent).abs().max()) <= LATENT_TOLERANCE


def test_the_fully_literal_oracle_runs_and_keeps_the_pixels_outside_the_edit(tmp_path: Path, pipe) -> None:
    config = DesignEditConfig(steps=STEPS, resolution=64, progress_bar=False)
    stack = _ball()
    scene = compile_scene(stack, EditPlan.parse({"operations": EDITS["move"][1]}))
    literal = oracle_edit(pipe, scene, config, OracleChoices.literal())
    outside = ~scene.edited_region()
    assert np.array_equal(literal.image[outside], stack.image[outside])
    assert not np.array_equal(literal.image[~outside], stack.image[~outside])
