"""Objects found by name from the command line: grounding + SAM models loaded by path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from layeredit.imageio import load_image
from tests.test_cli import layeredit
from tests.tiny_perception import save_tiny_grounding_dino, save_tiny_sam

# Random weights score low: accept every box so the real code paths run end to end.
FIND_ANYTHING = ["--box-threshold", "0", "--text-threshold", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("perception")
    grounding, sam = save_tiny_grounding_dino(root / "gdino"), save_tiny_sam(root / "sam")
    return ["--grounding-model", str(grounding), "--sam-model", str(sam), *FIND_ANYTHING]


@pytest.fixture(scope="module")
def cat_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "chelsea.png"
    Image.fromarray(data.chelsea()).save(path)
    return path


def test_segment_writes_a_mask_per_phrase_and_an_overlay(models, cat_photo, tmp_path):
    done = layeredit("segment", cat_photo, "cat", "the cat on the right", "-o", tmp_path / "masks", *models)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "masks").iterdir())
    assert written == ["cat.png", "cat_rightmost.png", "overlay.png"]
    mask = np.asarray(Image.open(tmp_path / "masks" / "cat.png"))
    assert mask.shape == (300, 451) and set(np.unique(mask)) <= {0, 255} and mask.any()
    assert load_image(tmp_path / "masks" / "overlay.png").shape == (300, 451, 3)


def test_edit_finds_an_unmasked_target_by_name(models, cat_photo, tmp_path):
    out = tmp_path / "out.png"
    done = layeredit("edit", cat_photo, "remove the cat", "-o", out, *models)
    assert done.returncode == 0, done.stderr
    edited, source = load_image(out), load_image(cat_photo)
    assert edited.shape == source.shape and (edited != source).any()


def test_a_given_mask_wins_and_the_models_are_not_needed(cat_photo, tmp_path):
    mask = np.zeros((300, 451), np.uint8)
    mask[100:200, 150:300] = 255
    Image.fromarray(mask).save(tmp_path / "cat.png")
    out = tmp_path / "out.png"
    missing = ["--grounding-model", str(tmp_path / "no-such-model")]
    done = layeredit(
        "edit", cat_photo, "remove the cat", "--mask", f"cat={tmp_path / 'cat.png'}", "-o", out, *missing
    )
    assert done.returncode == 0, done.stderr
    changed = (load_image(out) != load_image(cat_photo)).any(axis=-1)
    assert changed[120:180, 170:280].all() and not changed[:60].any()


def test_a_missing_model_is_one_clear_line(models, cat_photo, tmp_path):
    sam = models[models.index("--sam-model") + 1]
    args = ["--grounding-model", tmp_path / "nope", "--sam-model", sam]
    done = layeredit("segment", cat_photo, "cat", "-o", tmp_path / "m", *args)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "--grounding-model PATH" in line and "nope" in line


def test_default_models_that_are_not_here_are_named_with_how_to_get_them(cat_photo, tmp_path):
    done = layeredit("segment", cat_photo, "cat", "-o", tmp_path / "m", "--segmenter", "sam")
    assert done.returncode == 2
    assert "hf download IDEA-Research/grounding-dino-tiny && hf download facebook/sam-vit-base" in done.stderr
    assert not (tmp_path / "m").exists()


def test_without_segment_anything_only_the_detector_is_missing(cat_photo, tmp_path):
    done = layeredit("segment", cat_photo, "cat", "-o", tmp_path / "m")  # IS-Net or GrabCut cut the boxes
    assert done.returncode == 2
    assert "hf download IDEA-Research/grounding-dino-tiny" in done.stderr
    assert "sam-vit-base" not in done.stderr
