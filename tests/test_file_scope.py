"""Chat and the agent tools read and write only under their root folder."""

from __future__ import annotations

import shutil

import pytest

from layeredit.admission.roots import FileScope
from layeredit.errors import ScopeError
from layeredit.integrations import agent_tools
from layeredit.integrations.agent_tools import EditImageArgs, PlanEditArgs, SegmentObjectsArgs
from tests.cli_inprocess import run_cli
from tests.conftest import SAMPLES

SOCCER = SAMPLES / "soccer"


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "root"
    folder.mkdir()
    shutil.copy(SOCCER / "image.jpg", folder / "image.jpg")
    shutil.copy(SOCCER / "boy.jpg", folder / "boy.jpg")
    (tmp_path / "outside.png").write_bytes(b"not to be touched")
    (folder / "link.png").symlink_to(tmp_path / "outside.png")
    (folder / "linked_dir").symlink_to(tmp_path)
    return folder


@pytest.mark.parametrize("given", ["../outside.png", "/etc/hostname", "linked_dir/outside.png", "~/x.png",
                                   "sub/../../outside.png"])  # fmt: skip
def test_paths_that_leave_the_root_are_refused(root, given):
    with pytest.raises(ScopeError, match="outside the folder this tool may use"):
        FileScope(root).path(given)


def test_paths_inside_are_taken_from_the_root(root):
    scope = FileScope(root)
    assert scope.path("image.jpg") == root / "image.jpg"
    assert scope.path(root / "sub" / ".." / "boy.jpg") == root / "boy.jpg"
    with pytest.raises(ScopeError, match="symbolic link"):
        scope.output("link.png")


def test_agent_tools_stay_inside_the_root(root):
    scope = FileScope(root)
    outside = root.parent / "outside.png"
    before = outside.read_bytes()
    cases = [
        lambda: agent_tools.edit_image(EditImageArgs(image_path=str(outside), instruction="remove the boy"),
                                       scope=scope),
        lambda: agent_tools.edit_image(EditImageArgs(image_path="image.jpg", instruction="remove the boy",
                                                     masks={"boy": "../outside.png"}), scope=scope),
        lambda: agent_tools.edit_image(EditImageArgs(image_path="image.jpg", instruction="remove the boy",
                                                     masks={"boy": "boy.jpg"}, output_path=str(outside),
                                                     overwrite=True), scope=scope),
        lambda: agent_tools.edit_image(EditImageArgs(image_path="image.jpg", instruction="remove the boy",
                                                     masks={"boy": "boy.jpg"}, output_path="link.png",
                                                     overwrite=True), scope=scope),
        lambda: agent_tools.segment_objects(SegmentObjectsArgs(image_path="image.jpg", phrases=["boy"],
                                                               output_dir=str(root.parent)), scope=scope),
        lambda: agent_tools.plan_edit(PlanEditArgs(instruction="remove the boy", image_path="/etc/hostname"),
                                      scope=scope),
    ]  # fmt: skip
    for case in cases:
        with pytest.raises(ScopeError):
            case()
    assert outside.read_bytes() == before
    args = EditImageArgs(image_path="image.jpg", instruction="remove the boy", masks={"boy": "boy.jpg"})
    done = agent_tools.edit_image(args, scope=scope)
    assert done["output_path"] == str(root / "image.edited.png")


def test_an_insert_from_outside_the_root_is_refused(root):
    plan = '{"operations": [{"op": "insert", "source": "../outside.png", "target": {"phrase": "boy"}}]}'
    args = EditImageArgs(image_path="image.jpg", instruction=plan, masks={"boy": "boy.jpg"})
    with pytest.raises(ScopeError):
        agent_tools.edit_image(args, scope=FileScope(root))


def test_chat_commands_stay_inside_the_root(root, monkeypatch):
    monkeypatch.chdir(root)
    outside = root.parent / "outside.png"
    script = "\n".join([f"save {outside}", "save link.png", "save ../escaped.png", "mask boy=/etc/hostname",
                        "save inside.png", "quit"])  # fmt: skip
    code, out, err = run_cli("chat", "image.jpg", "--session-dir", "session", stdin=script + "\n")
    assert code == 0, err
    assert out.count("outside the folder this tool may use") == 3 and "symbolic link" in out
    assert "saved inside.png" in out or f"saved {root / 'inside.png'}" in out
    assert outside.read_bytes() == b"not to be touched" and not (root.parent / "escaped.png").exists()
