"""DDIM inversion, background blending, latent fusion and the UNet call budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from layeredit.engine.designedit.attention import KeyMaskController, key_masking
from layeredit.engine.designedit.config import DesignEditConfig
from layeredit.engine.designedit.denoiser import Denoiser, EmptyPrompt
from layeredit.engine.designedit.frame import Frame, keep_outside, working_size
from layeredit.engine.designedit.fusion import LatentLayer, fuse, shift_latent
from layeredit.engine.designedit.inversion import Trajectory, ddim_invert, encode
from layeredit.engine.designedit.pipeline import LatentScene, denoise, expected_unet_calls
from layeredit.imageio import load_image
from tests.conftest import example
from tests.tiny_models import tiny_scheduler, tiny_sd15

# DDIM inversion evaluates the noise one level below where denoising evaluates it, so the round
# trip is exact when the predicted noise does not depend on the latent, and first-order accurate
# otherwise: its error grows with how strongly the UNet reacts to its input. A random UNet reacts
# far more than a trained one, so the gentle test scales its output layer down by 100.
EXACT_TOLERANCE = 1e-4
GENTLE_TOLERANCE = 0.1  # relative to the source latent's largest magnitude; measured 0.054 at 10 steps


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory):
    return tiny_sd15(tmp_path_factory.mktemp("sd15"))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    image = load_image(example("moving/01_ball/0.jpg"))
    return Frame((512, 512), (64, 64), 4).picture(image)


def _invert(pipe, picture: np.ndarray, steps: int) -> tuple[Trajectory, Denoiser, object]:
    scheduler = tiny_scheduler()
    scheduler.set_timesteps(steps)
    denoiser = Denoiser(pipe.unet, EmptyPrompt.encode(pipe, torch.device("cpu")))
    (trajectory,) = ddim_invert(denoiser, scheduler, encode(pipe.vae, [picture]))
    return trajectory, denoiser, scheduler


def _reconstruction_error(pipe, picture: np.ndarray, steps: int) -> float:
    trajectory, denoiser, scheduler = _invert(pipe, picture, steps)
    assert len(trajectory.latents) == steps + 1 and denoiser.rows == steps
    latents = trajectory.latents[0]
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            latents = scheduler.step(denoiser(latents, timestep), timestep, latents, return_dict=False)[0]
    source = trajectory.latents[-1]
    assert not torch.allclose(trajectory.latents[0], source, atol=1e-3)  # it really went to noise
    return float((latents - source).abs().max() / source.abs().max())


@pytest.mark.parametrize(("output_scale", "tolerance"), [(0.0, EXACT_TOLERANCE), (0.01, GENTLE_TOLERANCE)])
def test_ddim_inversion_then_plain_denoising_returns_the_source_latent(
    tmp_path: Path, picture: np.ndarray, output_scale: float, tolerance: float
) -> None:
    pipe = tiny_sd15(tmp_path)
    with torch.no_grad():
        pipe.unet.conv_out.weight.mul_(output_scale)
        pipe.unet.conv_out.bias.normal_()  # scale 0: a fixed, latent-independent noise prediction
    assert _reconstruction_error(pipe, picture, steps=10) < tolerance


def _square(size: int, box: tuple[int, int, int, int]) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    x0, y0, x1, y1 = box
    mask[..., y0:y1, x0:x1] = 1.0
    return mask


def _denoise(pipe, scene: LatentScene, config: DesignEditConfig, scheduler, on_step=None) -> Denoiser:
    denoiser = Denoiser(pipe.unet, EmptyPrompt.encode(pipe, torch.device("cpu")))
    controller = KeyMaskController()
    with key_masking(pipe.unet, controller):
        denoise(scene, denoiser, scheduler, controller, config, on_step=on_step)
    return denoiser


def test_background_outside_the_hole_is_the_source_trajectory_until_the_blend_step(pipe, picture) -> None:
    config = DesignEditConfig(steps=8)
    trajectory, _, scheduler = _invert(pipe, picture, config.steps)
    hole = _square(16, (4, 4, 10, 12))
    seen: dict[int, torch.Tensor] = {}
    _denoise(pipe, LatentScene(trajectory, hole, []), config, scheduler, lambda s, x: seen.__setitem__(s, x))
    outside = hole[0, 0] == 0
    for step in range(1, config.blend_last + 1):
        assert torch.equal(seen[step][..., outside], trajectory.latents[step][..., outside])
        assert not torch.equal(seen[step][..., ~outside], trajectory.latents[step][..., ~outside])
    assert config.blend_last < config.steps


def test_fusion_places_a_layer_k_latent_pixels_away(pipe, picture) -> None:
    config = DesignEditConfig(steps=6)
    trajectory, _, scheduler = _invert(pipe, picture, config.steps)
    object_mask, k = _square(16, (2, 5, 6, 9)), 7
    layer = LatentLayer(trajectory, object_mask, shift=(k, -1))
    scene = LatentScene(trajectory, _square(16, (1, 4, 8, 10)), [layer])
    fused: dict[int, torch.Tensor] = {}
    _denoise(pipe, scene, config, scheduler, lambda s, x: fused.__setitem__(s, x))
    level = config.fusion_step
    canvas = fused[level]
    assert torch.equal(canvas[..., 4:8, 9:13], trajectory.latents[level][..., 5:9, 2:6])


def test_shift_moves_by_whole_latent_pixels_and_crops_at_the_frame() -> None:
    latent = torch.arange(1 * 4 * 8 * 8, dtype=torch.float32).reshape(1, 4, 8, 8)
    assert torch.equal(shift_latent(latent, 3, 0)[..., 3:], latent[..., :5])
    assert torch.equal(shift_latent(latent, 0, -2)[..., :6, :], latent[..., 2:, :])
    off = shift_latent(latent, 6, 0)
    assert torch.equal(off[..., 6:], latent[..., :2]) and not off[..., :6].any()  # cropped
    assert not shift_latent(latent, 8, 0).any()  # entirely off the frame

    base = torch.zeros(1, 4, 8, 8)
    layer_trajectory = Trajectory([torch.ones(1, 4, 8, 8)])
    mask = _square(8, (5, 2, 8, 4))
    canvas = fuse(base, [LatentLayer(layer_trajectory, mask, shift=(2, 0))], 0)
    assert canvas[..., 2:4, 7].eq(1).all() and canvas.sum() == 4 * 2 * 1  # only one column still in frame


def test_layers_paste_in_z_order() -> None:
    base = torch.zeros(1, 1, 4, 4)
    bottom = LatentLayer(Trajectory([torch.full((1, 1, 4, 4), 1.0)]), _square(4, (0, 0, 3, 3)), (0, 0))
    top = LatentLayer(Trajectory([torch.full((1, 1, 4, 4), 2.0)]), _square(4, (0, 0, 2, 2)), (1, 1))
    canvas = fuse(base, [bottom, top], 0)
    assert canvas[0, 0, 2, 2] == 2 and canvas[0, 0, 0, 0] == 1 and canvas[0, 0, 3, 3] == 0


def test_input_offsets_become_whole_latent_pixels() -> None:
    frame = Frame(input_size=(512, 256), size=(128, 64), latent_factor=8)  # 32 input px per latent px
    assert frame.latent_shift((3 * 32, -2 * 32)) == (3, -2)
    assert frame.latent_shift((15, -31)) == (0, 0)  # truncated toward zero, like the reference


def test_a_move_of_a_fifth_at_1024_is_25_latent_pixels_as_in_the_reference() -> None:
    frame = Frame(input_size=(1024, 1024), size=(1024, 1024), latent_factor=8)
    assert frame.latent_shift((round(-0.2 * 1024), round(0.2 * 1024))) == (-25, 25)


@pytest.mark.parametrize(("size", "side", "multiple"), [((320, 512), 1024, 32), ((1280, 720), 512, 64),
                                                         ((900, 900), 64, 8)])
def test_working_size_keeps_aspect_and_area(size, side, multiple) -> None:
    width, height = working_size(size, side, multiple)
    assert width % multiple == 0 and height % multiple == 0
    assert abs(width / height - size[0] / size[1]) < 0.15
    assert abs(width * height / side**2 - 1) < 0.2


def test_keep_outside_is_exact_outside_the_region() -> None:
    rng = np.random.default_rng(0)
    original, result = rng.integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    region = np.zeros((40, 50), bool)
    region[10:30, 15:35] = True
    out = keep_outside(original, result, region, seam_px=4)
    assert np.array_equal(out[~region], original[~region])
    assert np.array_equal(out[18:22, 23:27], result[18:22, 23:27])  # deep inside: the result


def _budget_scene(hole: bool, layers: int) -> LatentScene:
    trajectory = Trajectory([torch.zeros(1, 4, 8, 8)])
    hole_mask = _square(8, (2, 2, 4, 4)) if hole else torch.zeros(1, 1, 8, 8)
    layer = LatentLayer(trajectory, _square(8, (2, 2, 4, 4)), (1, 0))
    return LatentScene(trajectory, hole_mask, [layer] * layers)


def test_documented_unet_budget_at_the_paper_settings() -> None:
    config = DesignEditConfig()
    # N·P + 2·K + (F − K) + (N − F) with N=50, K=39 (steps 2..40), F=42.
    assert expected_unet_calls(config, _budget_scene(hole=True, layers=0), 1) == 50 + 78 + 3 + 8 == 139
    assert expected_unet_calls(config, _budget_scene(hole=True, layers=1), 1) == 139
    assert expected_unet_calls(config, _budget_scene(hole=True, layers=3), 3) == 150 + 89 == 239
    # Nothing to paint (duplicate, insert): the background is the source through the blend step; S = B.
    assert expected_unet_calls(config, _budget_scene(hole=False, layers=1), 1) == 50 + 1 + 8


def test_config_windows_scale_with_steps() -> None:
    paper = DesignEditConfig()
    # The reference masks keys while its 0-based counter is in (0, 40): steps 2..40; refine 2..26.
    assert paper.key_mask_from == 2
    assert (paper.key_mask_last, paper.blend_last, paper.fusion_step, paper.refine_last) == (40, 41, 42, 26)
    short = DesignEditConfig(steps=10)
    assert (short.key_mask_last, short.blend_last, short.fusion_step, short.refine_last) == (8, 8, 8, 5)
    with pytest.raises(ValueError):
        DesignEditConfig(steps=0)
    with pytest.raises(ValueError):
        DesignEditConfig(key_mask_from=0)


def test_key_mask_windows_start_at_step_2_and_end_on_their_last_step() -> None:
    hole, refine = _square(8, (2, 2, 4, 4)), _square(8, (5, 5, 7, 7))
    scene = LatentScene(Trajectory([torch.zeros(1, 4, 8, 8)]), hole, [], refine=refine)
    config = DesignEditConfig()
    masks = {step: scene.key_mask(step, config) for step in range(1, 51)}
    assert masks[1] is None
    assert torch.equal(masks[2], hole + refine) and torch.equal(masks[26], hole + refine)
    assert torch.equal(masks[27], hole) and torch.equal(masks[40], hole)
    assert all(masks[step] is None for step in range(41, 51))




def _rows_and_latents(pipe, scene: LatentScene, config: DesignEditConfig, scheduler):
    """UNet rows spent on each step and the latent after it."""
    denoiser = Denoiser(pipe.unet, EmptyPrompt.encode(pipe, torch.device("cpu")))
    controller = KeyMaskController()
    rows, seen, spent = {}, {}, [0]

    def observe(step: int, latents: torch.Tensor) -> None:
        rows[step], spent[0] = denoiser.rows - spent[0], denoiser.rows
        seen[step] = latents.clone()

    with key_masking(pipe.unet, controller):
        denoise(scene, denoiser, scheduler, controller, config, on_step=observe)
    return rows, seen, denoiser


def test_the_first_step_is_not_key_masked_and_the_last_masked_step_is_the_windows_end(pipe, picture) -> None:
    config = DesignEditConfig(steps=10)  # key masking on steps 2..8
    trajectory, _, scheduler = _invert(pipe, picture, config.steps)
    scene = LatentScene(trajectory, _square(16, (4, 4, 10, 12)), [])
    rows, _, _ = _rows_and_latents(pipe, scene, config, scheduler)
    assert [rows[step] for step in range(1, 11)] == [1, 2, 2, 2, 2, 2, 2, 2, 1, 1]


def _fused_scene(trajectory: Trajectory) -> LatentScene:
    layer = LatentLayer(trajectory, _square(16, (2, 5, 6, 9)), shift=(7, -1))
    return LatentScene(trajectory, _square(16, (1, 4, 8, 10)), [layer])


def test_the_fused_canvas_is_plainly_denoised_without_inversion_guidance(pipe, picture) -> None:
    config = DesignEditConfig(steps=10)  # fusion after step 8; steps 9 and 10 have t < 400
    trajectory, _, scheduler = _invert(pipe, picture, config.steps)
    _, seen, denoiser = _rows_and_latents(pipe, _fused_scene(trajectory), config, scheduler)
    timestep = scheduler.timesteps[8]
    assert int(timestep) < config.inversion_guidance_below
    with torch.no_grad():
        eps = denoiser(seen[8], timestep)
    plain = scheduler.step(eps, timestep, seen[8], return_dict=False)[0]
    assert torch.allclose(seen[9], plain, atol=1e-6, rtol=0)

    guided = DesignEditConfig(steps=10, guide_canvas=True)
    _, pulled, _ = _rows_and_latents(pipe, _fused_scene(trajectory), guided, scheduler)
    outside = _fused_scene(trajectory).edited()[0, 0] == 0
    source = trajectory.latents[9]
    assert torch.equal(pulled[8], seen[8])
    drift, pulled_drift = (seen[9] - source).abs(), (pulled[9] - source).abs()
    assert torch.allclose(pulled_drift[..., outside], 0.9 * drift[..., outside], atol=1e-5)


def test_removal_keeps_inversion_guidance_after_the_fusion_step(pipe, picture) -> None:
    config = DesignEditConfig(steps=10)
    trajectory, _, scheduler = _invert(pipe, picture, config.steps)
    hole = _square(16, (4, 4, 10, 12))
    _, seen, denoiser = _rows_and_latents(pipe, LatentScene(trajectory, hole, []), config, scheduler)
    timestep = scheduler.timesteps[8]
    with torch.no_grad():
        plain = scheduler.step(denoiser(seen[8], timestep), timestep, seen[8], return_dict=False)[0]
    expected = plain - config.inversion_guidance_rate * (plain - trajectory.latents[9]) * (1 - hole)
    assert torch.allclose(seen[9], expected, atol=1e-6, rtol=0)
