"""The weight-free engine on real photos: what changes, where things land, what is preserved."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.scene import compile_scene
from layeredit.imageio import load_image
from layeredit.plan import EditPlan
from layeredit.tools.masks import MaskError, centroid, dilate, load_mask, scaled_px
from layeredit.tools.resolve import NamedMasks
from tests.conftest import example


def run(image: np.ndarray, masks: dict[str, np.ndarray], *operations: dict):
    plan = EditPlan.parse({"operations": list(operations)})
    stack = LayerStack.build(image, plan, NamedMasks(masks))
    return PixelEngine().run(stack, plan)


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=-1)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "move", "target": {"phrase": "boy"}, "dx": -0.2, "dy": 0.05},
        {"op": "remove", "target": {"phrase": "boy"}},
        {"op": "resize", "target": {"phrase": "boy"}, "scale": 1.4},
        {"op": "flip", "target": {"phrase": "boy"}, "axis": "horizontal"},
        {"op": "duplicate", "target": {"phrase": "boy"}},
        {"op": "reorder", "target": {"phrase": "boy"}, "position": "front"},
    ],
    ids=lambda op: op["op"],
)
def test_outside_the_edit_the_image_is_untouched(soccer, operation):
    image, boy = soccer
    result = run(image, {"boy": boy}, operation)
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    outside = ~result.scene.edited_region()
    assert outside.sum() > 0.3 * outside.size
    assert not changed(result.image, image)[outside].any()


def test_edits_change_the_picture_inside_the_edited_region(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "remove", "target": {"phrase": "boy"}})
    assert changed(result.image, image)[erode(boy, 3)].mean() > 0.9


@pytest.mark.parametrize(
    "name, dx, dy", [("boy", -0.2, 0.0), ("apple", 0.1, -0.15), ("sunglasses", -0.05, 0.1)]
)
def test_moved_object_lands_where_dx_dy_say(pikachu, soccer, name, dx, dy):
    image, masks = soccer[0], {"boy": soccer[1]}
    if name != "boy":
        image, masks = pikachu[0], {name: pikachu[1][name]}
    mask = masks[name]
    height, width = mask.shape
    result = run(image, masks, {"op": "move", "target": {"phrase": name}, "dx": dx, "dy": dy})
    (layer,) = result.scene.drawn
    x, y = centroid(layer.placed_mask())
    x0, y0 = centroid(mask)
    assert abs(x - (x0 + dx * width)) <= 2 and abs(y - (y0 + dy * height)) <= 2
    # The object's own pixels are pasted unchanged at the new place.
    ox, oy = layer.offset
    ys, xs = np.nonzero(erode(mask, 4))
    assert np.array_equal(result.image[ys + oy, xs + ox], image[ys, xs])


def test_move_off_the_frame_is_cropped_not_an_error(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "move", "target": {"phrase": "boy"}, "dx": -0.9})
    (layer,) = result.scene.drawn
    assert layer.placed_mask().sum() < 0.5 * boy.sum()
    assert result.image.shape == image.shape


def test_move_to_a_corner_keeps_the_object_in_frame(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "move", "target": {"phrase": "boy"}, "to": {"x": 0, "y": 0}})
    (layer,) = result.scene.drawn
    placed = layer.placed_mask()
    assert placed.sum() == boy.sum()
    ys, xs = np.nonzero(placed)
    assert xs.min() == 0 and ys.min() == 0


def test_flip_twice_is_identity_on_the_object(soccer):
    image, boy = soccer
    flip = {"op": "flip", "target": {"phrase": "boy"}, "axis": "horizontal"}
    result = run(image, {"boy": boy}, flip, flip)
    assert np.array_equal(result.image[boy], image[boy])
    once = run(image, {"boy": boy}, flip)
    assert changed(once.image, image)[boy].mean() > 0.3


def test_vertical_flip_mirrors_the_object_about_its_centre(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "flip", "target": {"phrase": "boy"}, "axis": "vertical"})
    (layer,) = result.scene.drawn
    axis = round(2 * centroid(boy)[1])  # mirrored row y comes from row axis - y
    rows = np.arange(boy.shape[0])
    valid = (axis - rows >= 0) & (axis - rows < boy.shape[0])
    assert np.array_equal(layer.mask[rows[valid]], boy[axis - rows[valid]])
    assert np.array_equal(layer.image[rows[valid]], image[axis - rows[valid]])


def test_an_empty_mask_is_an_error_naming_the_object(soccer):
    image, boy = soccer
    with pytest.raises(MaskError, match="mask for 'boy' selects nothing"):
        run(image, {"boy": np.zeros_like(boy)}, {"op": "remove", "target": {"phrase": "boy"}})


def test_resize_scales_the_object_about_its_centroid(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "resize", "target": {"phrase": "boy"}, "scale": 0.5})
    (layer,) = result.scene.drawn
    assert layer.mask.sum() == pytest.approx(0.25 * boy.sum(), rel=0.05)
    assert np.allclose(centroid(layer.mask), centroid(boy), atol=2)


def test_swap_exchanges_centroids(pikachu):
    image, masks = pikachu
    result = run(
        image,
        {"sunglasses": masks["sunglasses"], "apple": masks["apple"]},
        {"op": "swap", "target": {"phrase": "sunglasses"}, "other": {"phrase": "apple"}},
    )
    glasses, apple = result.scene.drawn
    assert np.allclose(centroid(glasses.placed_mask()), centroid(masks["apple"]), atol=1)
    assert np.allclose(centroid(apple.placed_mask()), centroid(masks["sunglasses"]), atol=1)


def test_duplicate_beside_keeps_the_original(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "duplicate", "target": {"phrase": "boy"}})
    assert not result.scene.hole.any()
    assert np.array_equal(result.image[erode(boy, 2)], image[erode(boy, 2)])
    (copy,) = result.scene.drawn
    assert copy.offset[1] == 0 and abs(copy.offset[0]) > 0
    assert not (copy.placed_mask() & boy).any()


def test_reorder_sends_a_layer_behind_the_others(pikachu):
    image, masks = pikachu
    named = {"apple": masks["apple"], "pikachu": masks["pikachu"]}
    result = run(
        image,
        named,
        {"op": "move", "target": {"phrase": "apple"}, "dx": 0.05},
        {"op": "move", "target": {"phrase": "pikachu"}, "dx": -0.05},
        {"op": "reorder", "target": {"phrase": "pikachu"}, "position": "back"},
    )
    assert [layer.name for layer in result.scene.drawn] == ["pikachu", "apple"]
    assert [layer.name for layer in result.layers] == ["background", "pikachu", "apple"]


def test_pan_keeps_the_original_content_at_the_shifted_place(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "pan", "dx": 0.2})
    width = image.shape[1]
    shift = round(0.2 * width)
    keep = width - shift - scaled_px(30, image.shape)
    assert np.array_equal(result.image[:, :keep], image[:, shift : shift + keep])
    assert result.scene.hole[:, keep + 1 :].all() and not result.scene.hole[:, :keep].any()


def test_zoom_out_keeps_the_original_content_in_the_middle(soccer):
    image, boy = soccer
    result = run(image, {"boy": boy}, {"op": "zoom_out", "scale": 0.5})
    height, width = image.shape[:2]
    small = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    margin = scaled_px(30, image.shape) + 2
    inner = result.image[height // 4 : height // 4 + height // 2, width // 4 : width // 4 + width // 2]
    diff = np.abs(inner.astype(int) - small.astype(int))[margin:-margin, margin:-margin]
    assert diff.mean() < 2.0
    assert result.scene.hole[0].all() and not result.scene.hole[height // 2, width // 2]


def test_non_square_shared_example_remove_union_of_masks():
    folder = example("remove/03_ball")
    image = load_image(folder / "0.jpg")
    assert image.shape[:2] == (512, 320)
    union = load_mask(folder / "mask0.jpg") | load_mask(folder / "mask1.jpg")
    result = run(image, {"ball": union}, {"op": "remove", "target": {"phrase": "ball", "select": "all"}})
    assert result.image.shape == image.shape
    hole = result.scene.hole
    assert (hole & union).sum() == union.sum()
    assert np.array_equal(result.image[~hole], image[~hole])


def test_select_picks_a_blob_of_a_multi_object_mask():
    folder = example("remove/04_pikachu")
    image = load_image(folder / "0.jpg")
    glasses, apple = load_mask(folder / "mask0.jpg"), load_mask(folder / "mask1.jpg")
    lowest = apple if centroid(apple)[1] > centroid(glasses)[1] else glasses
    result = run(
        image,
        {"thing": glasses | apple},
        {"op": "remove", "target": {"phrase": "thing", "select": "bottommost"}},
    )
    assert np.array_equal(result.scene.hole, dilate(lowest, scaled_px(20, image.shape)))


def test_insert_takes_the_object_from_another_image(tmp_path):
    folder = example("layer/03_text")
    image, other = load_image(folder / "00.jpg"), folder / "01.jpg"
    lettering = load_mask(folder / "mask1.jpg")
    plan = EditPlan.parse(
        {"operations": [{"op": "insert", "source": str(other), "target": {"phrase": "text"}}]}
    )
    resolver = NamedMasks({"text": lettering})
    stack = LayerStack.build(image, plan, resolver, lambda path: (load_image(path), resolver))
    result = PixelEngine().run(stack, plan)
    (layer,) = result.scene.drawn
    assert np.array_equal(layer.placed_mask(), lettering)
    assert np.array_equal(result.image[erode(lettering, 3)], load_image(other)[erode(lettering, 3)])
    assert not result.scene.hole.any()


def test_params_scale_with_image_size():
    assert scaled_px(20, (1024, 1024)) == 20
    assert scaled_px(20, (512, 512)) == 10


def test_scene_of_several_operations_on_one_object(soccer):
    image, boy = soccer
    plan = EditPlan.parse(
        {
            "operations": [
                {"op": "move", "target": {"phrase": "boy"}, "dx": 0.1},
                {"op": "resize", "target": {"phrase": "boy"}, "scale": 0.8},
                {"op": "move", "target": {"phrase": "boy"}, "dy": -0.1},
            ]
        }
    )
    scene = compile_scene(LayerStack.build(image, plan, NamedMasks({"boy": boy})), plan)
    (layer,) = scene.drawn
    assert layer.offset == (round(0.1 * 512), -round(0.1 * 512))
    assert np.array_equal(scene.hole, dilate(boy, scaled_px(20, image.shape)))


def test_edited_region_covers_the_soft_edge_of_an_object_pushed_out_of_frame():
    # The grown mask is shifted with the layer; growing after the shift missed the edge that
    # the part outside the frame leaves just inside the border.
    image = np.full((512, 512, 3), 90, np.uint8)
    image[:, ::7] = 200
    mask = np.zeros((512, 512), bool)
    mask[100:300, 46:51] = True
    result = run(image, {"post": mask}, {"op": "move", "target": {"phrase": "post"}, "dx": -0.1})
    assert not changed(result.image, image)[~result.scene.edited_region()].any()
