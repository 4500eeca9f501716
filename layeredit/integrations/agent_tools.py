"""What layeredit offers other agents, independent of the protocol (LangChain tools, MCP).

Each tool takes and returns file paths. Outputs are written atomically to new files; the input
image is only overwritten when the caller asks for it explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

from layeredit.admission.documents import MAX_ITEMS, Coordinate, Name, NamedPaths, PathText, Text
from layeredit.admission.outputs import claim_output
from layeredit.admission.roots import FileScope, scoped
from layeredit.engine.resolution import ResolutionParams
from layeredit.hints import AGENT_TOOL, speaking
from layeredit.imageio import check_writable, load_image, save_image
from layeredit.params import field_names, optional_fields
from layeredit.plan import Insert
from layeredit.tools.resolve import parse_box

EDIT_IMAGE_DESCRIPTION = (
    "Edit a photo from a plain-English instruction: move, remove, resize, flip, duplicate, swap or "
    "reorder objects, pan the camera or zoom out. Objects are found from the masks or boxes given "
    "(name each after the object, e.g. {'cat': 'cat_mask.png'}). Writes the edited image to a new "
    "file and returns its path and the edit plan that was carried out."
)
SEGMENT_OBJECTS_DESCRIPTION = (
    "Find objects named by phrases ('cat', 'red car') in a photo and write one mask image per phrase "
    "(white = object), for use as masks in edit_image. Needs the detection and segmentation models; "
    "when they are not installed it says so, and masks or boxes must be given to edit_image instead."
)
PLAN_EDIT_DESCRIPTION = (
    "Turn a plain-English editing instruction into layeredit's edit plan (JSON) without editing "
    "anything, e.g. to check how an instruction will be understood."
)


# Every string, list and number of a tool's arguments is bounded (the admission document types).
BoxCorners = Annotated[list[Coordinate], Field(min_length=4, max_length=4)]
NamedBoxes = Annotated[dict[Name, BoxCorners], Field(max_length=MAX_ITEMS)]
Phrases = Annotated[list[Name], Field(max_length=64)]


class _EditImageCore(BaseModel):
    image_path: PathText = Field(description="Path of the photo to edit (PNG, JPEG or WebP).")
    instruction: Text = Field(
        description="What to change, e.g. 'move the cat to the left and remove the lamp', or edit plan JSON."
    )
    output_path: PathText | None = Field(
        default=None,
        description="Where to write the result (.png, .jpg, .webp). Default: a new file next to the "
        "input named <name>.edited.png.",
    )
    masks: NamedPaths = Field(
        default_factory=dict,
        description="Object name -> path of its mask image (white = object, same size as the photo).",
    )
    boxes: NamedBoxes = Field(
        default_factory=dict, description="Object name -> [x0, y0, x1, y1] box around it, in pixels."
    )
    overwrite: bool = Field(
        default=False, description="Allow replacing an existing file at output_path (never the input image)."
    )
    refine_mask: PathText | None = Field(
        default=None,
        description="Path of a mask of features beside a removed object (e.g. lettering) to keep out of "
        "its hole (used by the diffusion engine).",
    )


# The resolution options are generated from ResolutionParams' fields (type, help; None: the engine's own).
EditImageArgs = create_model(
    "EditImageArgs", __base__=_EditImageCore, __module__=__name__, **optional_fields(ResolutionParams)
)


class SegmentObjectsArgs(BaseModel):
    image_path: PathText = Field(description="Path of the photo.")
    phrases: Phrases = Field(min_length=1, description="Objects to find, e.g. ['cat', 'lamp'].")
    output_dir: PathText | None = Field(
        default=None, description="Folder for the mask images. Default: <name>.masks next to the photo."
    )


class PlanEditArgs(BaseModel):
    instruction: Text = Field(description="The editing instruction in plain English.")
    image_path: PathText | None = Field(
        default=None, description="The photo the instruction is about (its size converts pixel amounts)."
    )


@speaking(AGENT_TOOL)
def edit_image(
    args: EditImageArgs, engine: Any = "pixel", llm: str | None = None, scope: FileScope | None = None
) -> dict[str, Any]:
    """Carry out the edit; returns ``{"output_path", "plan", "summary"}``.

    With a ``scope`` every file read or written (image, masks, insert sources, output) is inside it.
    """
    from layeredit.agent.llm import plan_instruction
    from layeredit.api import edit

    source = scoped(scope, args.image_path, "image_path")
    output = output_path_for(source, args.output_path, args.overwrite, scope)
    pixels = load_image(source, keep_alpha=True)
    plan = plan_instruction(args.instruction, (pixels.shape[1], pixels.shape[0]), llm, pixels[..., :3])
    boxes = {name: parse_box(name, box) for name, box in args.boxes.items()}
    masks = {name: scoped(scope, path, f"mask {name!r}") for name, path in args.masks.items()}
    sources = None
    if scope is not None:
        inserts = {op.source for op in plan.operations if isinstance(op, Insert)}
        sources = {path: scope.path(path, "insert source") for path in inserts}
    refine = None if args.refine_mask is None else scoped(scope, args.refine_mask, "refine_mask")
    result = edit(
        pixels, plan, masks=masks, boxes=boxes, engine=engine, sources=sources, refine_mask=refine,
        hd_strategy=args.model_dump(include=set(field_names(ResolutionParams)), exclude_none=True),
    )  # fmt: skip
    save_image(result.image, output)
    return {
        "output_path": str(output),
        "plan": result.plan.model_dump(exclude_none=True),
        "summary": plan.summary(),
    }


def output_path_for(
    source: Path, requested: str | None, overwrite: bool, scope: FileScope | None = None
) -> Path:
    """The requested output, or a fresh ``<stem>.edited.png`` beside ``source``; never clobbers silently."""
    if requested is None:
        output = source.with_name(f"{source.stem}.edited.png")
        number = 2
        while output.exists():
            output = source.with_name(f"{source.stem}.edited-{number}.png")
            number += 1
    else:
        output = Path(requested).expanduser() if scope is None else scope.output(requested)
    check_writable(claim_output(output, [source], overwrite, "output_path"))
    return output


@speaking(AGENT_TOOL)
def segment_objects(args: SegmentObjectsArgs, scope: FileScope | None = None) -> dict[str, Any]:
    """Masks for each phrase, or an explanation that masks/boxes must be given by hand."""
    from layeredit.errors import ModelLoadError

    source = scoped(scope, args.image_path, "image_path")
    load_image(source)  # a bad path is the caller's mistake, not a missing model
    folder = source.with_name(f"{source.stem}.masks")
    if args.output_dir:
        folder = scoped(scope, args.output_dir, "output_dir")
    try:
        from layeredit.tools.auto import AutomaticResolver, how_to_get
        from layeredit.tools.segment import segment_image

        resolver = AutomaticResolver()
        missing = resolver.missing_models()
        if missing:
            raise ModelLoadError(f"the models are not on this machine: {how_to_get(missing)}")
        result = segment_image(source, args.phrases, folder, resolver)
    except (ModelLoadError, ImportError) as exc:
        return {
            "available": False,
            "message": f"automatic segmentation is not available here ({exc}). Give edit_image the "
            "objects instead: masks (name -> mask image path) or boxes (name -> [x0, y0, x1, y1]).",
        }
    return {
        "available": True,
        "masks": {key: str(path) for key, path in result.masks.items()},
        "missing": result.missing,
        "overlay": None if result.overlay is None else str(result.overlay),
    }


@speaking(AGENT_TOOL)
def plan_edit(args: PlanEditArgs, llm: str | None = None, scope: FileScope | None = None) -> dict[str, Any]:
    """The edit plan as a JSON-ready dict."""
    from layeredit.agent.llm import plan_instruction

    pixels = None if args.image_path is None else load_image(scoped(scope, args.image_path, "image_path"))
    size = (1000, 1000) if pixels is None else (pixels.shape[1], pixels.shape[0])
    return plan_instruction(args.instruction, size, llm, pixels).model_dump(exclude_none=True)


DECOMPOSE_IMAGE_DESCRIPTION = (
    "Split a photo into layers for a design tool: a clean background plate (the objects removed and "
    "their holes filled) plus each object as its own transparent layer at its place, written as a "
    "Photoshop .psd, an OpenRaster .ora or a folder of PNG layers. Objects come from masks or boxes "
    "(name -> mask path or [x0, y0, x1, y1]), phrases found by detection, or auto. Returns the path "
    "and each layer's name and box."
)


class DecomposeImageArgs(BaseModel):
    image_path: PathText = Field(description="Path of the photo (PNG, JPEG or WebP).")
    output_path: PathText | None = Field(
        default=None,
        description="Where to write: .psd, .ora or a folder (no suffix). Default: <name>.layers.psd "
        "next to the photo.",
    )
    masks: NamedPaths = Field(default_factory=dict, description="Object name -> path of its mask image.")
    boxes: NamedBoxes = Field(default_factory=dict, description="Object name -> [x0, y0, x1, y1].")
    phrases: Phrases = Field(default_factory=list, description="Objects to find by name (needs models).")
    auto: bool = Field(default=False, description="Also find the salient objects (needs the models).")
    overwrite: bool = Field(
        default=False,
        description="Allow replacing an existing file or folder at output_path (not the photo).",
    )


@speaking(AGENT_TOOL)
def decompose_image(
    args: DecomposeImageArgs, engine: Any = "pixel", scope: FileScope | None = None
) -> dict[str, Any]:
    """Write the layered file; returns ``{"output_path", "layers": [{"name", "box"}]}``.

    With a ``scope`` every file read or written (image, masks, output) is inside it.
    """
    from layeredit.layered import decompose
    from layeredit.layerfile import claim_scene_output

    source = scoped(scope, args.image_path, "image_path")
    default = source.with_name(f"{source.stem}.layers.psd")
    given = args.output_path or default
    output = Path(given).expanduser() if scope is None else scope.output(given, "output_path")
    pixels = load_image(source)
    masks = {name: str(scoped(scope, path, f"mask {name!r}")) for name, path in args.masks.items()}
    claim_scene_output(output, [source, *masks.values()], args.overwrite, "output_path")
    boxes = {name: parse_box(name, box) for name, box in args.boxes.items()}
    result = decompose(pixels, args.phrases, masks, boxes, args.auto, engine=engine)
    result.save(output, args.overwrite)
    layers = [{"name": item.name, "box": list(item.box)} for item in result.record.found]
    return {"output_path": str(output), "layers": [{"name": "background"}, *layers]}
