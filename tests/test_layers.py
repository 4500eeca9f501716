"""One meaning of an edit's layers for both engines: the clean plate, then each object where it ends up."""

from __future__ import annotations

import numpy as np
import pytest

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine
from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.export import composite
from layeredit.plan import EditPlan
from layeredit.tools.masks import centroid, dilate
from tests.tiny_models import save_tiny_sdxl

MOVE_BOY = EditPlan.parse({"operations": [{"op": "move", "target": {"phrase": "boy"}, "dx": -0.25}]})


@pytest.fixture(scope="module")
def tiny_designedit(tmp_path_factory: pytest.TempPathFactory) -> DesignEditEngine:
    model = save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")
    config = DesignEditConfig(steps=5, resolution=64, progress_bar=False)
    return DesignEditEngine.from_pretrained(str(model), device="cpu", config=config)


def _check_layers(result, image: np.ndarray, boy: np.ndarray) -> None:
    names = [layer.name for layer in result.layers]
    assert names == ["background", "boy"]
    plate, moved = result.layers[0].rgba, result.layers[1].rgba
    assert plate.shape == (*image.shape[:2], 4) and (plate[..., 3] == 255).all()
    # The plate is the background behind every object: the source wherever nothing was painted.
    unpainted = ~result.scene.hole
    assert np.array_equal(plate[..., :3][unpainted], image[unpainted])
    # The object layer sits where the object went: its opaque part is the mask shifted by the move.
    dx = round(-0.25 * image.shape[1])
    grown = dilate(boy, result.scene.px(result.scene.params.object_dilation))
    (x, y), (bx, by) = centroid(moved[..., 3] > 127), centroid(grown)
    assert abs(x - (bx + dx)) < 1.5 and abs(y - by) < 1.5
    assert (moved[..., 3][boy & ~dilate(np.roll(boy, dx, axis=1), 12)] == 0).all()


def test_pixel_layers_are_plate_then_objects_and_flatten_to_the_result(soccer) -> None:
    image, boy = soccer
    result = PixelEngine().run(LayerStack(image=image, objects={"boy": [boy]}), MOVE_BOY)
    _check_layers(result, image, boy)
    # The old place of the boy is painted over on the plate: the hole is no longer the source there.
    assert np.abs(result.layers[0].rgba[..., :3][boy].astype(int) - image[boy]).mean() > 10
    flat = np.asarray(composite(result.layers))[..., :3].astype(int)
    assert np.abs(flat - result.image).max() <= 2


def test_designedit_background_layer_is_the_decoded_background_branch(tiny_designedit, soccer) -> None:
    image, boy = soccer
    result = tiny_designedit.run(LayerStack(image=image, objects={"boy": [boy]}), MOVE_BOY)
    _check_layers(result, image, boy)
    plate = result.layers[0].rgba[..., :3]
    # Not the final picture: where the boy now stands the plate still shows the untouched source.
    landed = np.roll(boy, round(-0.25 * image.shape[1]), axis=1) & ~result.scene.hole
    assert np.array_equal(plate[landed], image[landed])
    assert not np.array_equal(result.image[landed], image[landed])


def test_designedit_plate_without_a_hole_is_the_background_itself(tiny_designedit, soccer) -> None:
    image, boy = soccer
    front = EditPlan.parse(
        {"operations": [{"op": "reorder", "target": {"phrase": "boy"}, "position": "front"}]}
    )
    result = tiny_designedit.run(LayerStack(image=image, objects={"boy": [boy]}), front)
    assert np.array_equal(result.layers[0].rgba[..., :3], image)

