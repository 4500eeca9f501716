"""Memory options of the DesignEdit engine: VAE tiling/slicing switch on, CPU offload says what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine
from tests.tiny_models import tiny_sdxl


def test_vae_tiling_and_slicing_are_switched_on_only_when_asked(tmp_path: Path) -> None:
    pipe = tiny_sdxl(tmp_path)
    DesignEditEngine(pipe, DesignEditConfig())
    assert not pipe.vae.use_tiling and not pipe.vae.use_slicing
    DesignEditEngine(pipe, DesignEditConfig(vae_tiling=True, vae_slicing=True))
    assert pipe.vae.use_tiling and pipe.vae.use_slicing


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown on a machine without a GPU")
def test_cpu_offload_without_a_gpu_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--cpu-offload needs a CUDA GPU"):
        DesignEditEngine(tiny_sdxl(tmp_path), DesignEditConfig(cpu_offload=True))
