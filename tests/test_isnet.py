"""The IS-Net segmenter on ONNX Runtime, run with a tiny model whose probability is the brightness
(tests/tiny_isnet.py), so crops, thresholds, the chosen parts and the soft alpha are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layeredit.errors import InputError, ModelLoadError
from layeredit.imageio import load_image
from layeredit.tools import segmenters
from layeredit.tools.isnet import Crop, IsNet, IsNetSegmenter, box_crop, find_isnet_model
from layeredit.tools.masks import load_mask
from tests.cli_inprocess import run_cli
from tests.tiny_isnet import save_tiny_isnet

HEIGHT, WIDTH = 400, 600
A = (slice(150, 230), slice(100, 160))  # the white object most tests prompt: x 100..160, y 150..230


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_isnet(tmp_path_factory.mktemp("isnet") / "tiny-isnet.onnx")


def picture(
    *white: tuple[slice, slice], grey: dict[int, list[tuple[slice, slice]]] | None = None
) -> np.ndarray:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for level, regions in (grey or {}).items():
        for region in regions:
            image[region] = level
    for region in white:
        image[region] = 255
    return image


def region_mask(*regions: tuple[slice, slice]) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    for region in regions:
        mask[region] = True
    return mask


def iou(found: np.ndarray, truth: np.ndarray) -> float:
    return float((found & truth).sum() / (found | truth).sum())


def counting(segmenter: IsNetSegmenter) -> list[tuple[int, int]]:
    """The crop sizes (height, width) the network is run on, recorded as the segmenter runs."""
    seen: list[tuple[int, int]] = []
    real = segmenter.net.probability

    def probability(rgb: np.ndarray) -> np.ndarray:
        seen.append(rgb.shape[:2])
        return real(rgb)

    segmenter.net.probability = probability  # type: ignore[method-assign]
    return seen


def test_the_crop_around_a_box_adds_a_tenth_on_every_side_and_stays_in_the_picture():
    assert box_crop((100, 150, 160, 230), WIDTH, HEIGHT) == Crop(82, 142, 178, 238)  # 80 px side x 1.2
    assert box_crop((560, 0, 600, 40), WIDTH, HEIGHT) == Crop(536, 0, 600, 64)  # least side, shifted in
    assert box_crop((0, 0, 600, 400), WIDTH, HEIGHT) == Crop(0, 0, 600, 400)  # cut to the picture


def test_a_box_gives_the_object_its_centre_covers_plus_whole_parts_and_not_neighbours_it_cuts(model):
    part = (slice(240, 256), slice(175, 191))  # wholly inside the box, 256 px >= 5% of A
    speck = (slice(142, 147), slice(92, 97))  # inside the box but under 5% of A
    neighbour = (slice(160, 200), slice(195, 260))  # crosses the box's right edge
    image = picture(A, part, speck, neighbour)
    segmenter = IsNetSegmenter(model)
    crops = counting(segmenter)
    segmenter.set_image(image)
    (mask,) = segmenter.predict([(90, 140, 200, 260)])
    assert crops == [(144, 144)]  # one run, on the 120 px box side x 1.2
    assert iou(mask, region_mask(A, part)) > 0.97
    assert not (mask & region_mask(speck, neighbour)).any()


def test_a_click_on_a_small_object_needs_one_run(model):
    segmenter = IsNetSegmenter(model)
    crops = counting(segmenter)
    mask = segmenter.segment_point(picture(A), 130, 190)
    assert crops == [(180, 180)]  # 0.3 x the picture's longer side
    assert iou(mask, region_mask(A)) > 0.97


def test_a_click_grows_the_crop_until_the_object_stops_touching_its_border(model):
    big = (slice(50, 350), slice(150, 450))  # 300 px: larger than the first 180 px crop
    segmenter = IsNetSegmenter(model)
    crops = counting(segmenter)
    mask = segmenter.segment_point(picture(big), 300, 200)
    assert crops == [(180, 180), (324, 324)]  # then 1.8 x (which also holds the object with a margin)
    assert iou(mask, region_mask(big)) > 0.97


def test_a_click_on_an_object_filling_the_picture_stops_at_the_whole_picture(model):
    segmenter = IsNetSegmenter(model)
    crops = counting(segmenter)
    mask = segmenter.segment_point(np.full((HEIGHT, WIDTH, 3), 255, np.uint8), 10, 10)
    assert crops[-1] == (HEIGHT, WIDTH) and len(crops) == 4
    assert mask.all()


def test_a_click_just_beside_an_object_picks_it_and_a_click_on_nothing_is_one_clear_error(model):
    segmenter = IsNetSegmenter(model)
    assert iou(segmenter.segment_point(picture(A), 162, 190), region_mask(A)) > 0.97  # 2 px right of A
    with pytest.raises(InputError, match=r"found no object at \(400, 300\); click inside the object"):
        segmenter.segment_point(picture(A), 400, 300)
    with pytest.raises(InputError, match="outside the 600x400 image"):
        segmenter.segment_point(picture(A), 600, 10)


def test_the_threshold_decides_what_is_object(model):
    dim = picture(grey={100: [A]})  # probability 100 / 256 = 0.39
    with pytest.raises(InputError, match="found no object"):
        IsNetSegmenter(model).segment_point(dim, 130, 190)
    assert iou(IsNetSegmenter(model, threshold=0.3).segment_point(dim, 130, 190), region_mask(A)) > 0.97


def test_the_alpha_is_the_probability_on_and_just_around_the_object_and_zero_elsewhere(model):
    rim = (slice(142, 238), slice(92, 168))  # an 8 px ring of grey 160 around A: probability 0.625
    halo = (slice(134, 246), slice(84, 176))  # and beyond it 8 px of grey 64: probability 0.25
    far = (slice(300, 380), slice(400, 500))  # grey 64 far away
    image = picture(A, grey={64: [halo, far], 160: [rim]})
    cut = IsNetSegmenter(model).cut_point(image, 130, 190)
    assert iou(cut.mask, region_mask(rim)) > 0.97  # 0.625 passes the 0.5 threshold, 0.25 does not
    assert cut.alpha[190, 130] == pytest.approx(255 / 256, abs=0.01)
    assert cut.alpha[190, 96] == pytest.approx(160 / 256, abs=0.01)  # the ring, inside the mask
    assert cut.alpha[190, 90] == pytest.approx(64 / 256, abs=0.01)  # the halo, 2 px beyond the mask
    assert cut.alpha[190, 85] == 0  # 7 px beyond: not this object's edge
    assert not cut.alpha[far].any()
    assert cut.alpha.dtype == np.float32


def test_the_salient_parts_of_the_whole_picture_come_largest_first_without_specks(model):
    big, small = (slice(50, 350), slice(300, 500)), A
    speck = (slice(10, 30), slice(10, 30))  # 400 px, under 0.5% of the picture
    parts = IsNetSegmenter(model).salient_objects(picture(big, small, speck))
    assert [round(iou(p.mask, region_mask(r)), 2) for p, r in zip(parts, (big, small), strict=True)] == [1, 1]


def test_the_model_is_found_in_the_cache_folder_medium_first(model, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYEREDIT_MODELS_DIR", str(tmp_path))
    assert find_isnet_model() is None
    with pytest.raises(ModelLoadError, match=rf"no IS-Net model in {tmp_path}: .*--isnet-model PATH"):
        IsNet()
    (tmp_path / "isnet-small.onnx").write_bytes(model.read_bytes())
    assert find_isnet_model() == tmp_path / "isnet-small.onnx"
    (tmp_path / "isnet-medium.onnx").write_bytes(model.read_bytes())
    assert find_isnet_model() == tmp_path / "isnet-medium.onnx"
    assert IsNet().path == tmp_path / "isnet-medium.onnx"


def test_a_missing_broken_or_foreign_model_file_is_one_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match=r"IS-Net model '.*nope.onnx' does not exist: .*--isnet-model"):
        IsNet(tmp_path / "nope.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match=r"cannot load IS-Net model '.*broken.onnx'"):
        IsNet(tmp_path / "broken.onnx")
    foreign = save_tiny_isnet(tmp_path / "foreign.onnx", input_name="image", output_name="mask")
    with pytest.raises(
        ModelLoadError, match=r"is not an IS-Net model: expected input 'input' .*found inputs \{'image'"
    ):
        IsNet(foreign)


def test_without_a_choice_the_segmenter_is_isnet_when_its_file_is_here_else_grabcut_with_a_warning(
    model, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LAYEREDIT_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(segmenters, "_warned", False)
    assert segmenters.chosen_segmenter(None) == "grabcut"
    assert segmenters.chosen_segmenter(None) == "grabcut"
    (warning,) = capsys.readouterr().err.strip().splitlines()  # once
    assert "masks will be rough" in warning and "--isnet-model PATH" in warning
    assert segmenters.chosen_segmenter(None, isnet_model=str(model)) == "isnet"
    (tmp_path / "isnet-small.onnx").write_bytes(model.read_bytes())
    assert segmenters.chosen_segmenter(None) == "isnet"
    assert segmenters.chosen_segmenter("grabcut") == "grabcut"
    assert isinstance(segmenters.make_point_segmenter("isnet", isnet_model=str(model)), IsNetSegmenter)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(picture(A, (slice(50, 350), slice(300, 500)))).save(path)
    return path


def test_segment_cuts_out_clicked_and_boxed_objects_with_isnet(model, photo, tmp_path):
    out = tmp_path / "masks"
    args = ["--point", "small=130,190", "--box", "big=290,40,510,360", "--isnet-model", model]
    code, stdout, stderr = run_cli("segment", photo, "--segmenter", "isnet", *args, "-o", out)
    assert code == 0, stderr
    assert iou(load_mask(out / "small.png"), region_mask(A)) > 0.97
    assert iou(load_mask(out / "big.png"), region_mask((slice(50, 350), slice(300, 500)))) > 0.97
    assert load_image(out / "overlay.png").shape == (HEIGHT, WIDTH, 3)
    assert f"small: {out / 'small.png'}" in stdout


def test_segment_names_a_missing_isnet_model_in_one_line(photo, tmp_path):
    code, _, stderr = run_cli(
        "segment", photo, "--segmenter", "isnet", "--point", "a=130,190", "-o", tmp_path / "m"
    )
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: no IS-Net model in") and "--isnet-model PATH" in line


def test_segment_needs_something_to_segment_and_well_formed_points(photo, tmp_path):
    code, _, stderr = run_cli("segment", photo, "-o", tmp_path / "m")
    assert code == 2 and "name what to segment" in stderr
    code, _, stderr = run_cli("segment", photo, "--point", "a=1,2,3", "-o", tmp_path / "m")
    assert code == 2 and "expected two numbers X,Y like a=120,80" in stderr


def test_decompose_auto_without_a_detector_puts_isnet_salient_parts_on_layers(model, photo):
    from layeredit.layered import decompose
    from layeredit.tools.auto import AutomaticResolver

    finder = AutomaticResolver(segmenter="isnet", isnet_model=str(model))
    result = decompose(load_image(photo), auto=True, resolver=finder, soft_edges=False)
    names = [layer.name for layer in result.layers]
    assert names[0] == "background" and len(names) == 3 and all(n.startswith("object") for n in names[1:])
    alphas = [layer.rgba[..., 3] > 127 for layer in result.layers[1:]]
    assert sorted(round(iou(a, region_mask(A)), 2) for a in alphas)[-1] == 1.0
