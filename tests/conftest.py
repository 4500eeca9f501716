from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

# Tests never reach the network: a hub id that is not cached fails at once instead of retrying.
os.environ["HF_HUB_OFFLINE"] = "1"
# Nor do they find the machine's own IS-Net files: the model cache is an empty folder.
os.environ["LAYEREDIT_MODELS_DIR"] = tempfile.mkdtemp(prefix="layeredit-test-models-")

from layeredit.imageio import load_image  # noqa: E402
from layeredit.tools.masks import load_mask  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
EXAMPLES = DATA / "designedit_examples"  # see tests/data/SOURCE.md
SAMPLES = REPO / "layeredit" / "samples"


def bench_module(name: str) -> ModuleType:
    """``bench/NAME.py`` loaded as a module (the benches are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example(relative: str) -> Path:
    """A DesignEdit example shipped in tests/data; missing data fails the test, never skips it."""
    path = EXAMPLES / relative
    if not path.exists():
        pytest.fail(f"test data {path} is missing (it ships in tests/data/designedit_examples)")
    return path


@pytest.fixture(scope="session")
def soccer() -> tuple[np.ndarray, np.ndarray]:
    """A 512x512 photo and the mask of the boy in it (bundled sample)."""
    image = load_image(SAMPLES / "soccer" / "image.jpg")
    return image, load_mask(SAMPLES / "soccer" / "boy.jpg")


@pytest.fixture(scope="session")
def pikachu() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A 512x512 photo with masks of the sunglasses, the apple and Pikachu (bundled sample)."""
    folder = SAMPLES / "pikachu"
    masks = {name: load_mask(folder / f"{name}.jpg") for name in ("sunglasses", "apple", "pikachu")}
    return load_image(folder / "image.jpg"), masks
