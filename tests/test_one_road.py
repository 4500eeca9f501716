"""One road for an edit: the same input gives the same picture through every interface.

Each case is run through the Python API, ``layeredit edit``, ``layeredit chat``, ``POST /v1/edit``,
a REST chat session, a batch and the MCP ``edit_image`` tool, all with the pixel engine, and every
output must equal the Python API's exactly (same bytes: every interface runs
``layeredit.editing.run_edit`` on the same pixels, so nothing may differ). A case the engine refuses
must be refused by every interface with the same reason.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import numpy as np
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError
from PIL import Image

from layeredit.agent.llm import make_planner
from layeredit.api import edit
from layeredit.batch.run import edit_many
from layeredit.engine.pixel import PixelEngine
from layeredit.imageio import load_image, save_image
from layeredit.integrations.mcp_server import build_server
from layeredit.plan import EditPlan
from layeredit.server import create_app
from tests.agent_fakes import JsonChatServer
from tests.cli_inprocess import run_cli

LLM = "openai:gpt-4o-mini"
# What the fake model answers to every request: words the rules cannot read become this plan.
LLM_PLAN = {"operations": [{"op": "move", "target": {"phrase": "ball"}, "dx": 0.15, "dy": 0.0}]}
LLM_WORDS = "scooch the ball right a tad"  # words the rules cannot account for: the model plans
REFINE_REFUSED = "a refine mask only applies to the designedit engine"

Outcome = np.ndarray | str  # the edited picture, or why the interface refused


@dataclass
class Case:
    image: np.ndarray
    instruction: str
    masks: dict[str, np.ndarray]
    hd_strategy: str | None = None
    refine: np.ndarray | None = None
    source: np.ndarray | None = None  # other.png, which an insert takes its object from
    llm: bool = False
    names: dict[str, str] = field(default_factory=dict)  # file name of each mask, filled by write()

    def write(self, folder: Path) -> None:
        save_image(self.image, folder / "image.png")
        for name, mask in self.masks.items():
            self.names[name] = f"{name}.png"
            save_image(mask.astype(np.uint8) * 255, folder / self.names[name])
        if self.refine is not None:
            save_image(self.refine.astype(np.uint8) * 255, folder / "refine.png")
        if self.source is not None:
            save_image(self.source, folder / "other.png")


def picture(width: int, height: int, seed: int = 0, alpha: bool = False) -> tuple[np.ndarray, dict]:
    """A textured picture with a red ball and a blue box (and a transparent-ish background)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 200 // width, y * 200 // height, np.full_like(x, 90)], axis=-1)
    image = (image + rng.integers(0, 40, (height, width, 3))).astype(np.uint8)
    side = min(width, height)
    ball = (x - 0.7 * width) ** 2 + (y - 0.6 * height) ** 2 <= (0.12 * side) ** 2
    box = (abs(x - 0.3 * width) <= 0.08 * width) & (abs(y - 0.55 * height) <= 0.15 * height)
    image[ball], image[box] = (220, 40, 40), (40, 60, 210)
    if alpha:
        ramp = (60 + 150 * x / width).astype(np.uint8)
        image = np.dstack([image, np.where(ball | box, 255, ramp).astype(np.uint8)])
    return image, {"ball": ball, "box": box}


def rgba_case() -> Case:
    image, masks = picture(128, 96, alpha=True)
    return Case(image, "move the ball to the left", {"ball": masks["ball"]})


def crop_case() -> Case:
    image, masks = picture(1280, 960, seed=1)
    return Case(image, "remove the box", {"box": masks["box"]}, hd_strategy="crop")


def refine_case() -> Case:
    image, masks = picture(128, 96, seed=2)
    refine = np.zeros_like(masks["box"])
    refine[30:70, 55:70] = True  # beside the box
    return Case(image, "remove the box", {"box": masks["box"]}, refine=refine)


def insert_case() -> Case:
    image, _ = picture(128, 96, seed=3)
    other, masks = picture(128, 96, seed=4)
    return Case(image, "insert the ball from other.png", {"ball": masks["ball"]}, source=other)


def relative_case() -> Case:
    image, masks = picture(128, 96, seed=5)
    return Case(image, "move the ball to the left of the box", masks)


def llm_case() -> Case:
    image, masks = picture(128, 96, seed=6)
    return Case(image, LLM_WORDS, {"ball": masks["ball"]}, llm=True)


CASES: dict[str, Callable[[], Case]] = {
    "rgba": rgba_case,
    "hd-crop": crop_case,
    "refine-mask": refine_case,
    "insert": insert_case,
    "relative-placement": relative_case,
    "llm-planner": llm_case,
}


# -- the interfaces: each collects the same inputs its own way and gives back the picture ----------


def via_python(case: Case, out: Path) -> Outcome:
    try:
        result = edit(
            "image.png", case.instruction, masks=dict(case.names), hd_strategy=case.hd_strategy or "auto",
            refine_mask="refine.png" if case.refine is not None else None,
            planner=make_planner(LLM) if case.llm else None,
        )  # fmt: skip
    except ValueError as exc:
        return str(exc)
    return result.image


def cli_flags(case: Case) -> list[str]:
    flags = [f"--mask={name}={file}" for name, file in case.names.items()]
    if case.hd_strategy:
        flags += ["--hd-strategy", case.hd_strategy]
    return flags + ["--llm", LLM if case.llm else "rules"]


def via_cli_edit(case: Case, out: Path) -> Outcome:
    refine = ["--refine-mask", "refine.png"] if case.refine is not None else []
    code, _, err = run_cli("edit", "image.png", case.instruction, "-o", out / "out.png", *cli_flags(case),
                           *refine)
    return load_image(out / "out.png", keep_alpha=True) if code == 0 else err


def via_cli_chat(case: Case, out: Path) -> Outcome:
    lines = (["refine refine.png"] if case.refine is not None else []) + [case.instruction]
    lines += [f"save {out / 'out.png'}", "quit"]
    code, said, err = run_cli(
        "chat", "image.png", "--session-dir", out / "chat", *cli_flags(case), stdin="\n".join(lines) + "\n"
    )
    failed = [line for line in said.splitlines() if line.startswith("error:")]
    if code != 0 or failed:
        return "\n".join(failed) or err
    return load_image(out / "out.png", keep_alpha=True)


def uploads(case: Case) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = [("image", ("image.png", Path("image.png").read_bytes(), "image/png"))]
    files += [("masks", (file, Path(file).read_bytes(), "image/png")) for file in case.names.values()]
    return files


def extra_uploads(case: Case) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = []
    if case.source is not None:
        files.append(("sources", ("other.png", Path("other.png").read_bytes(), "image/png")))
    if case.refine is not None:
        files.append(("refine_mask", ("refine.png", Path("refine.png").read_bytes(), "image/png")))
    return files


def server(case: Case, out: Path) -> TestClient:
    app = create_app(engine=PixelEngine(), planner=LLM if case.llm else "rules", data_dir=out / "server")
    return TestClient(app, base_url="http://localhost")


def via_rest_edit(case: Case, out: Path) -> Outcome:
    with server(case, out) as client:
        response = client.post(
            "/v1/edit", files=uploads(case) + extra_uploads(case),
            data={"instruction": case.instruction, "hd_strategy": case.hd_strategy or "auto"},
        )  # fmt: skip
    if response.status_code != 200:
        return response.json()["detail"]
    return png_pixels(base64.b64decode(response.json()["image"]))


def via_rest_session(case: Case, out: Path) -> Outcome:
    with server(case, out) as client:
        created = client.post("/v1/sessions", files=uploads(case))
        assert created.status_code == 201, created.text
        session = created.json()["id"]
        response = client.post(
            f"/v1/sessions/{session}/messages", params={"wait": True}, files=extra_uploads(case) or None,
            data={"text": case.instruction, "hd_strategy": case.hd_strategy or "auto"},
        )  # fmt: skip
        if response.status_code != 200:
            return response.json()["detail"]
        view = response.json()
        if view["current"] != 1:
            return view["messages"][-1]["text"]
        return png_pixels(client.get(f"/v1/sessions/{session}/turns/1/image.png").content)


def via_batch(case: Case, out: Path) -> Outcome:
    line = {"image": "image.png", "instruction": case.instruction, "masks": case.names, "output": "out.png"}
    if case.hd_strategy:
        line["options"] = {"hd_strategy": case.hd_strategy}
    if case.refine is not None:
        line["refine_mask"] = "refine.png"
    Path("manifest.jsonl").write_text(json.dumps(line) + "\n")
    [result] = edit_many("manifest.jsonl", out / "batch", llm=LLM if case.llm else "rules")
    return load_image(out / "batch" / "out.png", keep_alpha=True) if result.succeeded else str(result.error)


def via_mcp(case: Case, out: Path) -> Outcome:
    tools = build_server(PixelEngine(), llm=LLM if case.llm else "rules", root=Path.cwd())
    args = {"image_path": "image.png", "instruction": case.instruction, "masks": case.names,
            "output_path": "mcp-out.png", "hd_strategy": case.hd_strategy or "auto"}  # fmt: skip
    if case.refine is not None:
        args["refine_mask"] = "refine.png"
    try:
        anyio.run(tools.call_tool, "edit_image", args)
    except ToolError as exc:
        return str(exc)
    return load_image("mcp-out.png", keep_alpha=True)


INTERFACES: dict[str, Callable[[Case, Path], Outcome]] = {
    "python": via_python,
    "cli-edit": via_cli_edit,
    "cli-chat": via_cli_chat,
    "rest-edit": via_rest_edit,
    "rest-session": via_rest_session,
    "batch": via_batch,
    "mcp": via_mcp,
}


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA" if "A" in image.getbands() else "RGB")).copy()


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch):
    """A local OpenAI-compatible server answering every request with LLM_PLAN."""
    monkeypatch.delenv("LAYEREDIT_LLM", raising=False)
    with JsonChatServer([json.dumps(LLM_PLAN)] * 20) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


@pytest.mark.parametrize("name", list(CASES))
def test_every_interface_gives_the_same_picture(name, tmp_path, monkeypatch, llm_env):
    case = CASES[name]()
    monkeypatch.chdir(tmp_path)
    case.write(tmp_path)
    outcomes = {}
    for interface, run in INTERFACES.items():
        (tmp_path / interface).mkdir()
        outcomes[interface] = run(case, tmp_path / interface)
    reference = outcomes["python"]
    if case.refine is not None:  # the pixel engine paints no features: it says so, in every interface
        assert {i: REFINE_REFUSED in str(o) for i, o in outcomes.items()} == dict.fromkeys(outcomes, True)
        return
    assert isinstance(reference, np.ndarray), reference
    differing = {
        interface: describe(got, reference)
        for interface, got in outcomes.items()
        if isinstance(got, str) or got.shape != reference.shape or not np.array_equal(got, reference)
    }
    assert differing == {}
    check_case(name, case, reference)


def describe(got: Outcome, reference: np.ndarray) -> str:
    if isinstance(got, str):
        return got
    if got.shape != reference.shape:
        return f"shape {got.shape}, not {reference.shape}"
    largest = np.abs(got.astype(int) - reference).max()
    return f"{np.count_nonzero(got != reference)} values differ, by up to {largest}"


def check_case(name: str, case: Case, edited: np.ndarray) -> None:
    """What the reference picture itself must show, so that "all equal" cannot mean "all wrong"."""
    assert edited.shape == case.image.shape
    assert not np.array_equal(edited, case.image)
    if name == "rgba":  # the ball's opacity went with it: as many opaque pixels, some elsewhere
        opaque_before, opaque_after = case.image[..., 3] == 255, edited[..., 3] == 255
        assert abs(int(opaque_after.sum()) - int(opaque_before.sum())) <= 0.1 * opaque_before.sum()
        assert (opaque_after & ~opaque_before).sum() > 50
    if name == "hd-crop":  # a crop window: pixels far from the box are exactly the input's
        assert np.array_equal(edited[:, 900:], case.image[:, 900:])
    if name == "llm-planner":  # the model's plan, not the rules' reading, was carried out
        planned = edit(case.image, EditPlan.parse(LLM_PLAN), masks=case.masks).image
        assert np.array_equal(edited, planned)


# -- the bugs two pipelines made, each seen from outside ------------------------------------------


def session_turn(client: TestClient, case: Case, hd_strategy: str = "auto") -> dict:
    created = client.post("/v1/sessions", files=uploads(case))
    assert created.status_code == 201, created.text
    session = created.json()["id"]
    response = client.post(
        f"/v1/sessions/{session}/messages", params={"wait": True},
        data={"text": case.instruction, "hd_strategy": hd_strategy},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["current"] == 1, view["messages"][-1]
    view["picture"] = png_pixels(client.get(f"/v1/sessions/{session}/turns/1/image.png").content)
    return view


def test_a_session_turn_on_a_transparent_picture_keeps_its_alpha(tmp_path, monkeypatch):
    """It ended in "internal error (a bug)": OpenCV inpainting was handed four channels."""
    case = rgba_case()
    monkeypatch.chdir(tmp_path)
    case.write(tmp_path)
    with server(case, tmp_path) as client:
        picture = session_turn(client, case)["picture"]
    assert picture.shape == (96, 128, 4)
    assert np.array_equal(picture, edit(case.image, case.instruction, masks=case.masks).image)


def test_a_session_edits_a_large_photo_as_the_large_photos_choice_says(tmp_path, monkeypatch):
    """The web page's "Large photos" select did nothing: sessions always ran "auto"."""
    case = crop_case()
    monkeypatch.chdir(tmp_path)
    case.write(tmp_path)
    with server(case, tmp_path) as client:
        picture = session_turn(client, case, hd_strategy="crop")["picture"]
    cropped = edit(case.image, case.instruction, masks=case.masks, hd_strategy="crop")
    automatic = edit(case.image, case.instruction, masks=case.masks)
    assert (cropped.stats["hd_strategy"], automatic.stats["hd_strategy"]) == ("crop", "resize")
    assert np.array_equal(picture, cropped.image)


def test_plan_and_edit_routes_plan_with_the_servers_planner(tmp_path, monkeypatch, llm_env):
    """/v1/plan and /v1/edit planned with the rules even on a server started with --llm."""
    case = llm_case()
    monkeypatch.chdir(tmp_path)
    case.write(tmp_path)
    with server(case, tmp_path) as client:
        planned = client.post("/v1/plan", json={"instruction": LLM_WORDS, "width": 128, "height": 96})
        edited = client.post("/v1/edit", files=uploads(case), data={"instruction": LLM_WORDS})
    assert planned.status_code == 200, planned.text
    assert EditPlan.parse(planned.json()["plan"]) == EditPlan.parse(LLM_PLAN)
    assert edited.status_code == 200, edited.text
    assert EditPlan.parse(edited.json()["plan"]) == EditPlan.parse(LLM_PLAN)
    assert len(llm_env.requests) == 2
