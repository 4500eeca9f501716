"""Write the hostile-input corpus: malformed and hostile inputs for every entry point.

    python -m tests.hostile.generate          # rewrites tests/hostile/corpus.json

Each case names an entry point (cli, rest, chat, mcp, api) and its inputs. Input files are
named, not stored: :func:`materialize` makes them in a sandbox (``root/`` is the working
directory and the tools' root, ``outside/`` must stay untouched).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.json"
SAMPLES = HERE.parents[1] / "layeredit" / "samples" / "soccer"
SIDE = 128  # small pictures keep the whole corpus fast

# Pictures of every kind; the first ones are usable with the boy's mask (same size).
IMAGES = [
    "image.png",
    "photo.jpg",
    "gray16.png",
    "int32.tif",
    "float.tif",
    "rgba.png",
    "palette.png",
    "cmyk.jpg",
    "exif.jpg",
    "small.png",
    "empty.png",
    "corrupt.jpg",
    "text.png",
    "bomb.png",
    "budget.png",
    "missing.png",
    "dir.png",
]
MASKS = [
    "boy.png",
    "boy01.png",
    "clear.png",
    "black.png",
    "white.png",
    "wrongsize.png",
    "empty.png",
    "corrupt.jpg",
    "exif.jpg",
    "rgba.png",
    "gray16.png",
    "missing.png",
    "../outside/secret.png",
    "link.png",
]
BOXES = [
    "40,20,80,120",
    "0,0,inf,10",
    "nan,0,10,10",
    "0,0,1e400,10",
    "-1e400,0,10,10",
    "a,b,c,d",
    "1,2,3",
    "1,2,3,4,5",
    "80,120,40,20",
    "10,10,10,10",
    "500,500,600,600",
    "-50,-50,-10,-10",
    "0,0,9999999,10",
    "１,２,３,４",
    "0x10,0,20,20",
    " 1 , 2 , 30 , 40 ",
    "1e3,0,2e3,10",
    "",
    ",,,",
    "0,0,128,128",
]
INSTRUCTIONS = [
    "move the boy to the left",
    "",
    "   ",
    "blah " * 2000,
    "move the boy left by 99999999999999999999 pixels",
    "move the boy left by -5 pixels",
    "make the boy 1e400 times bigger",
    "make the boy 0 times bigger",
    "remove",
    "move",
    "flip",
    "zoom out by 1000%",
    "pan left by 1e308 pixels",
    "move the 😀 left",
    "‮move the boy left",
    "move the boy\u0000left",
    "move the boy\x1b[31mleft",
    "$(rm -rf /)",
    "'; DROP TABLE jobs; --",
    "%s%s%s%n",
    "{",
    "[" * 5000,
    '{"operations": []}',
    '{"operations": [{"op": "nuke"}]}',
    '{"operations": [{"op": "move", "target": {"phrase": "boy"}, "dx": 1e400}]}',
    '{"operations": [{"op": "resize", "target": {"phrase": "boy"}, "scale": -1}]}',
    '{"operations": [{"op": "insert", "source": "/etc/passwd", "target": {"phrase": "boy"}}]}',
    '{"operations": [{"op": "insert", "source": "../outside/secret.png", "target": {"phrase": "boy"}}]}',
    '{"operations": [{"op": "move", "target": {"phrase": "boy", "select": "index", "index": 99}, '
    '"dx": 0.1}]}',
    '{"operations": [{"op": "move", "target": {"phrase": "' + "x" * 5000 + '"}, "dx": 0.1}]}',
    "insert the boy from /etc/passwd",
    "insert the boy from ../outside/secret.png",
    "move the cat left",
    "remove the boy and remove the boy and remove the boy",
    "move the boy left " * 200,
]
OUTPUTS = ["out.png", "out.xyz", "nodir/out.png", "out", "out.jpg", ".png"]
SIZES = ["0x0", "-1x5", "99999999999x5", "axb", "1e3x1e3", "", "5", "1000x1000x3", "１０x１０"]


def _cli() -> list[dict]:
    cases = []
    for image in IMAGES:
        for instruction in ("move the boy to the left", "remove the boy"):
            cases.append({"args": ["edit", image, instruction, "--mask", "boy=boy.png", "-o", "out.png"]})
    for mask in MASKS:
        cases.append(
            {
                "args": [
                    "edit",
                    "image.png",
                    "move the boy to the left",
                    "--mask",
                    f"boy={mask}",
                    "-o",
                    "out.png",
                ]
            }
        )
    for box in BOXES:
        cases.append(
            {
                "args": [
                    "edit",
                    "image.png",
                    "move the boy to the left",
                    "--box",
                    f"boy={box}",
                    "-o",
                    "out.png",
                ]
            }
        )
    for instruction in INSTRUCTIONS:
        if "\u0000" in instruction:
            continue  # no program can receive a NUL byte in its arguments
        cases.append({"args": ["edit", "image.png", instruction, "--mask", "boy=boy.png", "-o", "out.png"]})
        cases.append({"args": ["plan", instruction, "--size", "128x128"]})
    for output in OUTPUTS:
        cases.append({"args": ["edit", "image.png", "remove the boy", "--mask", "boy=boy.png", "-o", output]})
    for size in SIZES:
        cases.append({"args": ["plan", "move the boy left by 10 pixels", "--size", size]})
    cases += [
        {"args": ["edit", "image.png", "remove the boy", "--mask", "boy"]},
        {"args": ["edit", "image.png", "remove the boy", "--mask", "=boy.png", "-o", "out.png"]},
        {"args": ["chat", "--resume", "nosession"]},
        {"args": ["chat", "--resume", "badsession"]},
        {"args": ["chat", "--resume", "listsession"]},
        {"args": ["segment", "bomb.png", "boy", "-o", "m"]},
        {"args": ["plan", "-"], "stdin": "\n".join(INSTRUCTIONS[:12]).replace("\u0000", "")},
    ]
    return [{"entry": "cli", **case} for case in cases]


def _rest() -> list[dict]:
    cases = []
    for image in IMAGES:
        cases.append(
            {
                "path": "/v1/edit",
                "image": image,
                "instruction": "move the boy to the left",
                "masks": {"boy.png": "boy.png"},
            }
        )
    for mask in MASKS:
        cases.append(
            {
                "path": "/v1/edit",
                "image": "image.png",
                "instruction": "move the boy left",
                "masks": {"boy.png": mask},
            }
        )
    for name in ("../../etc/passwd.png", "", ".png", "x" * 300 + ".png", "boy", "/etc/boy.png", "cat.png"):
        cases.append(
            {
                "path": "/v1/edit",
                "image": "image.png",
                "instruction": "move the boy left",
                "masks": {name: "boy.png"},
            }
        )
    boxes = [
        '{"boy": [40, 20, 80, 120]}',
        '{"boy": [0, 0, 1e400, 10]}',
        '{"boy": [0, 0, NaN, 10]}',
        "[]",
        "null",
        '"x"',
        '{"boy": "x"}',
        '{"boy": [1, 2, 3]}',
        '{"boy": [80, 120, 40, 20]}',
        "[" * 10000,
        '{"boy": [500, 500, 600, 600]}',
        '{"boy": [0, 0, ' + "9" * 5000 + ", 10]}",
        "{",
        '{"boy": [true, false, true, true]}',
        '{"boy": {"x": 1}}',
        '{"boy": [-1e9, -1e9, 1e9, 1e9]}',
    ]
    for box in boxes:
        cases.append(
            {"path": "/v1/edit", "image": "image.png", "instruction": "move the boy left", "boxes": box}
        )
    for instruction in INSTRUCTIONS:
        cases.append(
            {
                "path": "/v1/edit",
                "image": "image.png",
                "instruction": instruction,
                "masks": {"boy.png": "boy.png"},
            }
        )
        cases.append({"path": "/v1/plan", "json": {"instruction": instruction, "width": 128, "height": 128}})
    for body in (
        {"instruction": "move the boy left", "width": 10**30},
        {"instruction": "x", "width": -1},
        {"instruction": 5},
        {},
        [],
        "x",
        {"instruction": "move it", "height": "tall"},
    ):
        cases.append({"path": "/v1/plan", "json": body})
    for insert in ("/etc/passwd", str(SAMPLES / "image.jpg"), "../outside/secret.png", "image.png"):
        plan = {"operations": [{"op": "insert", "source": insert, "target": {"phrase": "boy"}, "dx": 0.1}]}
        cases.append(
            {
                "path": "/v1/edit",
                "image": "image.png",
                "instruction": json.dumps(plan),
                "masks": {"boy.png": "boy.png"},
            }
        )
    for form in (
        {"x": "99999999999999999999999", "y": "1"},
        {"x": "-5", "y": "-5"},
        {"x": "1e400", "y": "0"},
        {"x": "3", "y": "3"},
        {"phrase": "boy"},
        {},
    ):
        cases.append({"path": "/v1/segment", "image": "image.png", "form": form})
    cases += [
        {"path": "/v1/edit"},
        {"path": "/v1/edit", "image": "image.png"},
        {"path": "/v1/jobs/../../etc/passwd", "method": "get"},
        {"path": "/v1/results/x/image.png", "method": "get"},
        {"path": "/v1/jobs/" + "x" * 5000, "method": "get"},
    ]
    return [{"entry": "rest", **case} for case in cases]


def _chat() -> list[dict]:
    lines = [line for line in INSTRUCTIONS if "\n" not in line]
    lines += [
        "save ../outside/x.png",
        "save /tmp/../etc/x.png",
        "save link.png",
        "save out.xyz",
        "save",
        "mask boy=../outside/secret.png",
        "mask boy=/etc/passwd",
        "mask =",
        "mask boy=",
        "mask boy=black.png",
        "mask boy=wrongsize.png",
        "mask boy=bomb.png",
        "undo",
        "redo",
        "history",
        "show plan",
        "help",
        "mask boy=clear.png",
        "move the boy left",
        "save saved.png",
    ]
    return [{"entry": "chat", "line": line} for line in lines]


def _mcp() -> list[dict]:
    cases = []
    for image in [*IMAGES, "../outside/secret.png", "/etc/passwd", "link.png"]:
        cases.append(
            {
                "tool": "edit_image",
                "args": {
                    "image_path": image,
                    "instruction": "move the boy left",
                    "masks": {"boy": "boy.png"},
                },
            }
        )
    for mask in MASKS:
        cases.append(
            {
                "tool": "edit_image",
                "args": {
                    "image_path": "image.png",
                    "instruction": "move the boy left",
                    "masks": {"boy": mask},
                },
            }
        )
    for output in ["../outside/secret.png", "link.png", "image.png", "/tmp/x.png", "out.xyz", "nodir/o.png"]:
        for overwrite in (False, True) if output != "image.png" else (False,):  # inputs stay as they are
            cases.append(
                {
                    "tool": "edit_image",
                    "args": {
                        "image_path": "image.png",
                        "instruction": "move the boy left",
                        "masks": {"boy": "boy.png"},
                        "output_path": output,
                        "overwrite": overwrite,
                    },
                }
            )
    for box in ([0, 0, 10], [80, 120, 40, 20], [500, 500, 600, 600], [0, 0, 10**30, 10], []):
        cases.append(
            {
                "tool": "edit_image",
                "args": {
                    "image_path": "image.png",
                    "instruction": "move the boy left",
                    "boxes": {"boy": box},
                },
            }
        )
    for instruction in INSTRUCTIONS:
        cases.append({"tool": "plan_edit", "args": {"instruction": instruction}})
    for folder in ("../outside", "/etc", "masks"):
        cases.append(
            {
                "tool": "segment_objects",
                "args": {"image_path": "image.png", "phrases": ["boy"], "output_dir": folder},
            }
        )
    lines = [
        "{not json",
        '{"jsonrpc": "2.0", "id": ' + "9" * 5000 + ', "method": "ping"}',
        "[1]",
        '"x"',
        '{"jsonrpc": "2.0", "id": 1}',
        "[" * 50000,
        "null",
        "{}",
    ]
    cases += [{"jsonrpc": line} for line in lines]
    return [{"entry": "mcp", **case} for case in cases]


def _api() -> list[dict]:
    images = [
        "zeros(0,0,3)",
        "zeros(8,8,5)",
        "nan_float",
        "inf_float",
        "object",
        "bool",
        "int64_big",
        "negative_int",
        "gray2d",
        "rgba_array",
        "pil_rgba",
        "pil_I16",
        "pil_exif",
    ]
    cases = [
        {"image": image, "instruction": "move the boy to the left", "boxes": {"boy": [40, 20, 80, 120]}}
        for image in images
    ]
    masks = [
        "all_false",
        "nan_float",
        "wrong_shape",
        "object",
        "ones_uint8",
        "3d_mask",
        "pil_1",
        "pil_rgba_clear",
    ]
    cases += [
        {"image": "image.png", "instruction": "move the boy to the left", "mask": mask} for mask in masks
    ]
    boxes = [
        [0, 0, float("inf"), 10],
        ["a", 1, 2, 3],
        [1, 2, 3],
        [80, 120, 40, 20],
        [500, 500, 600, 600],
        [0, 0, 1e300, 10],
        None,
    ]
    cases += [
        {"image": "image.png", "instruction": "move the boy to the left", "boxes": {"boy": box}}
        for box in boxes
    ]
    cases += [
        {"image": "image.png", "instruction": text, "boxes": {"boy": [40, 20, 80, 120]}}
        for text in INSTRUCTIONS
    ]
    cases += [
        {"image": "image.png", "plan_dict": plan}
        for plan in ({}, {"operations": "x"}, {"operations": [None]}, {"operations": [{"op": "move"}]})
    ]
    return [{"entry": "api", **case} for case in json.loads(json.dumps(cases, allow_nan=True))]


# Layered scenes (issue 22): folders and uploads that name files outside, declare huge sizes or
# are damaged; each is made by materialize_scenes.
SCENE_FOLDERS = ["scene-escape", "scene-absolute", "scene-link", "scene-deep", "scene-list", "scene-huge-box",
                 "scene-inf", "scene-duplicate"]  # fmt: skip
SCENE_UPLOADS = ["escape.zip", "bomb.zip", "big.ora", "garbage.psd", "nostack.ora", "猫.zip"]


def _scenes() -> list[dict]:
    cases: list[dict] = []
    for folder in SCENE_FOLDERS:
        cases.append({"entry": "cli", "args": ["compose", folder, "-o", "out-scene.png"]})
        cases.append({"entry": "mcp", "tool": "decompose_image",
                      "args": {"image_path": "image.png", "output_path": folder,
                               "boxes": {"boy": [40, 20, 80, 120]}}})  # fmt: skip
    for upload in SCENE_UPLOADS:
        cases.append({"entry": "rest", "path": "/v1/compose", "scene": upload})
    box = ["--box", "boy=40,20,80,120", "--hard-edges"]
    cases += [
        {"entry": "cli", "args": ["decompose", "image.png", "-o", ".", *box]},
        {"entry": "cli", "args": ["decompose", "image.png", "-o", ".", "--overwrite", *box]},
        {"entry": "cli", "args": ["decompose", "image.png", "-o", "taken.psd", *box]},
        {"entry": "cli", "args": ["compose", "scene-escape", "-o", "image.png", "--overwrite"]},
        {
            "entry": "mcp",
            "tool": "decompose_image",
            "args": {"image_path": "image.png", "output_path": ".", "boxes": {"boy": [40, 20, 80, 120]}},
        },  # fmt: skip
        {
            "entry": "mcp",
            "tool": "decompose_image",
            "args": {
                "image_path": "image.png",
                "output_path": "taken.psd",
                "boxes": {"boy": [40, 20, 80, 120]},
            },
        },  # fmt: skip
        {"entry": "chat", "line": "save image.png"},
        *[
            {"entry": "cli", "args": ["edit", "image.png", "remove the boy", "--mask", "boy=boy.png", *tail]}
            for tail in (
                ["-o", "image.png"],
                ["-o", "image.png", "--overwrite"],
                ["-o", "boy.png"],
                ["-o", "./sub/../image.png"],
                ["-o", "猫.png"],
                ["-o", "new.png", "--save-layers", "."],
            )
        ],
        {"entry": "cli", "args": ["segment", "image.png", "--box", "boy=40,20,80,120", "-o", "."]},
        {
            "entry": "rest",
            "path": "/v1/decompose",
            "image": "猫.png",
            "boxes": '{"球": [40, 20, 80, 120]}',
            "form": {"soft_edges": "false"},
        },  # fmt: skip
    ]
    return cases


def corpus() -> list[dict]:
    cases = _cli() + _rest() + _chat() + _mcp() + _api() + _scenes()
    return [{"id": f"{case['entry']}-{number:03d}", **case} for number, case in enumerate(cases)]


# -- input files ------------------------------------------------------------------------------------


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: decoding it would need that much memory."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def materialize(sandbox: Path) -> tuple[Path, Path]:
    """Make the input files; returns (root, outside)."""
    root, outside = sandbox / "root", sandbox / "outside"
    root.mkdir(parents=True)
    outside.mkdir()
    with Image.open(SAMPLES / "image.jpg") as photo:
        image = photo.convert("RGB").resize((SIDE, SIDE))
    with Image.open(SAMPLES / "boy.jpg") as mask:
        boy = np.asarray(mask.convert("L").resize((SIDE, SIDE))) > 127
    pixels = np.asarray(image)
    image.rotate(90).save(outside / "secret.png")  # a real picture: reading it would go unnoticed
    image.save(root / "image.png")
    image.save(root / "photo.jpg", quality=90)
    gray = np.asarray(image.convert("L")).astype(np.uint16) * 257
    Image.fromarray(gray).save(root / "gray16.png")
    Image.fromarray(gray.astype(np.int32), "I").save(root / "int32.tif")
    Image.fromarray(gray.astype(np.float32) / 65535, "F").save(root / "float.tif")
    Image.fromarray(np.dstack([pixels, np.where(boy, 255, 128).astype(np.uint8)])).save(root / "rgba.png")
    image.convert("P").save(root / "palette.png")
    image.convert("CMYK").save(root / "cmyk.jpg")
    exif = image.getexif()
    exif[0x0112] = 3  # upside down: the size stays, so the boy's mask still fits
    image.save(root / "exif.jpg", exif=exif.tobytes())
    image.resize((40, 40)).save(root / "small.png")
    (root / "empty.png").touch()
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken" + b"\x00" * 50)
    (root / "text.png").write_text("hello, not a picture")
    (root / "bomb.png").write_bytes(png_claiming_size(30000, 30000))
    (root / "budget.png").write_bytes(png_claiming_size(12000, 5000))
    (root / "dir.png").mkdir()
    Image.fromarray(boy.astype(np.uint8) * 255).save(root / "boy.png")
    Image.fromarray(boy.astype(np.uint8)).save(root / "boy01.png")
    Image.new("RGBA", (SIDE, SIDE), (255, 255, 255, 0)).save(root / "clear.png")
    Image.new("L", (SIDE, SIDE), 0).save(root / "black.png")
    Image.new("L", (SIDE, SIDE), 255).save(root / "white.png")
    Image.new("L", (64, 64), 255).save(root / "wrongsize.png")
    (root / "link.png").symlink_to(outside / "secret.png")
    (root / "badsession").mkdir()
    (root / "badsession" / "session.json").write_text("null")
    (root / "listsession").mkdir()
    (root / "listsession" / "session.json").write_text("[1, 2, 3]")
    materialize_scenes(root, outside)
    return root, outside


def _scene_json(original: str = "original.png", box: list | None = None) -> dict:
    layer = {"name": "boy", "file": "01_boy.png", "box": box or [50, 20, 90, 120], "z": 1}
    return {"format": "layeredit-scene", "version": 1, "size": [SIDE, SIDE],
            "found": [{"name": "boy", "box": [40, 20, 80, 120], "source": "box"}], "original": original,
            "layers": [layer]}  # fmt: skip


def zipped(entries: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def materialize_scenes(root: Path, outside: Path) -> None:
    """Scene folders and uploads that reach outside, claim huge sizes or are damaged."""
    boy = Image.new("RGBA", (40, 100), (200, 30, 30, 255))
    scenes = {
        "scene-escape": _scene_json("../../outside/secret.png"),
        "scene-absolute": _scene_json(str(outside / "secret.png")),
        "scene-link": _scene_json(),
        "scene-deep": json.loads("[" * 40 + "]" * 40),
        "scene-list": [],
        "scene-huge-box": _scene_json(box=[0, 0, 30000, 30000]),
        "scene-inf": {**_scene_json(), "size": [SIDE, float("inf")]},
        "scene-duplicate": {**_scene_json(), "layers": [_scene_json()["layers"][0]] * 2},
    }
    for name, data in scenes.items():
        folder = root / name
        folder.mkdir()
        (folder / "scene.json").write_text(json.dumps(data))
        boy.save(folder / "01_boy.png")
        if name != "scene-link":
            Image.open(root / "image.png").save(folder / "original.png")
    (root / "scene-link" / "original.png").symlink_to(outside / "secret.png")
    escape = root / "scene-escape"
    (root / "escape.zip").write_bytes(zipped({p.name: p.read_bytes() for p in escape.iterdir()}))
    (root / "猫.zip").write_bytes((root / "escape.zip").read_bytes())
    (root / "bomb.zip").write_bytes(zipped({"scene.json": "{}", "zeros.png": b"\0" * (64 * 2**20)}))
    record = {**_scene_json(), "size": [10000, 10000]}
    stack = '<image w="10000" h="10000"><stack><layer name="original" src="o.png"/></stack></image>'
    (root / "big.ora").write_bytes(zipped({"mimetype": "image/openraster", "stack.xml": stack,
                                         "layeredit/scene.json": json.dumps(record)}))  # fmt: skip
    (root / "nostack.ora").write_bytes(zipped({"mimetype": "image/openraster",
                                             "layeredit/scene.json": json.dumps(_scene_json())}))  # fmt: skip
    (root / "garbage.psd").write_bytes(b"8BPS\0\1" + bytes(range(256)) * 4)
    (root / "taken.psd").write_bytes(b"the user's own file")
    Image.open(root / "image.png").save(root / "猫.png")


def main() -> None:
    cases = corpus()
    CORPUS.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {
        entry: sum(case["entry"] == entry for case in cases)
        for entry in ("cli", "rest", "chat", "mcp", "api")
    }
    print(f"wrote {len(cases)} cases to {CORPUS}: {counts}")


if __name__ == "__main__":
    main()
