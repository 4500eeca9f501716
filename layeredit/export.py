"""Layered files that design tools open: Photoshop PSD and OpenRaster (.ora).

Layers come background first (bottom of the stack), as :class:`RenderedLayer` (full-canvas RGBA)
and keep their names, which are the plan's target phrases. Every file is written atomically.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image

from layeredit.admission.names import safe_stem
from layeredit.engine.base import EditResult, RenderedLayer
from layeredit.errors import InputError
from layeredit.imageio import save_image, write_atomically

ORA_THUMBNAIL_SIDE = 256  # the OpenRaster spec caps thumbnails at 256 px


def layer_file_stem(number: int, name: str) -> str:
    """``03_red_20_car``: the z-position first so a folder listing sorts bottom to top, then the
    name in an encoding that gives distinct names distinct files."""
    return f"{number:02d}_{safe_stem(name)}"


def opaque_box(rgba: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the non-transparent pixels, or None for an empty layer."""
    rows, cols = np.nonzero(rgba[..., 3])
    if rows.size == 0:
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _cropped(layer: RenderedLayer) -> tuple[Image.Image, int, int]:
    """The layer cut to its visible pixels with its (left, top); editors then show tight bounds."""
    box = opaque_box(layer.rgba)
    if box is None:
        return Image.new("RGBA", (1, 1), (0, 0, 0, 0)), 0, 0
    left, top, right, bottom = box
    return Image.fromarray(np.ascontiguousarray(layer.rgba[top:bottom, left:right]), "RGBA"), left, top


def _check_layers(layers: Sequence[RenderedLayer]) -> tuple[int, int]:
    if not layers:
        raise InputError("no layers to export")
    height, width = layers[0].rgba.shape[:2]
    for layer in layers:
        if layer.rgba.shape != (height, width, 4) or layer.rgba.dtype != np.uint8:
            raise InputError(
                f"layer {layer.name!r} is {layer.rgba.shape} {layer.rgba.dtype}; "
                f"every layer must be {height}x{width}x4 uint8 RGBA"
            )
    return width, height


def psd_export_available() -> bool:
    """psd-tools comes with the ``server`` extra; without it only OpenRaster is written."""
    return importlib.util.find_spec("psd_tools") is not None


XMP_NAMESPACE = "https://layeredit.dev/ns/scene/1.0/"


def scene_xmp(scene_json: str) -> bytes:
    """An XMP packet carrying layeredit's scene record; editors keep XMP when they save."""
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:layeredit="{XMP_NAMESPACE}">'
        f"<layeredit:scene>{escape(scene_json)}</layeredit:scene>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def psd_bytes(
    layers: Sequence[RenderedLayer], hidden: Sequence[RenderedLayer] = (), scene_json: str | None = None
) -> bytes:
    """A layered Photoshop document, one pixel layer per rendered layer, in the same z-order.

    ``hidden`` layers go below them, switched off; ``scene_json`` is kept in the XMP metadata.
    """
    from psd_tools import PSDImage  # optional dependency: the ``server`` or ``layers`` extra
    from psd_tools.constants import Resource
    from psd_tools.psd.image_resources import ImageResource

    width, height = _check_layers([*hidden, *layers])
    document = PSDImage.new("RGBA", (width, height), color=(0, 0, 0, 0))
    for layer in [*hidden, *layers]:  # each new layer goes on top, so background first keeps the order
        image, left, top = _cropped(layer)
        created = document.create_pixel_layer(image, name="layer", left=left, top=top)
        created.name = layer.name  # any name: kept as Unicode, with an ASCII stand-in for old readers
        created.visible = not any(layer is off for off in hidden)
    if scene_json is not None:
        xmp = ImageResource(key=Resource.XMP_METADATA, data=scene_xmp(scene_json))
        document.image_resources[Resource.XMP_METADATA] = xmp
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def composite(layers: Sequence[RenderedLayer]) -> Image.Image:
    """The layers flattened bottom to top with ordinary alpha blending."""
    width, height = _check_layers(layers)
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    for layer in layers:
        canvas = Image.alpha_composite(canvas, Image.fromarray(layer.rgba, "RGBA"))
    return canvas


ORA_SCENE_ENTRY = "layeredit/scene.json"


def ora_bytes(
    layers: Sequence[RenderedLayer], hidden: Sequence[RenderedLayer] = (), scene_json: str | None = None
) -> bytes:
    """An OpenRaster document (GIMP, Krita, MyPaint): a zip of PNG layers and ``stack.xml``.

    ``hidden`` layers go below them, switched off; ``scene_json`` is stored beside ``stack.xml``.
    """
    width, height = _check_layers([*hidden, *layers])
    entries = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # The spec requires the media type first and uncompressed, so tools can sniff it.
        archive.writestr("mimetype", "image/openraster", compress_type=zipfile.ZIP_STORED)
        for number, layer in enumerate([*hidden, *layers]):
            image, left, top = _cropped(layer)
            source = f"data/{layer_file_stem(number, layer.name)}.png"
            archive.writestr(source, _png(image), compress_type=zipfile.ZIP_STORED)
            visibility = "hidden" if number < len(hidden) else "visible"
            entries.append(
                f'    <layer name={quoteattr(layer.name)} src={quoteattr(source)} x="{left}" y="{top}" '
                f'opacity="1.0" visibility="{visibility}" composite-op="svg:src-over"/>'
            )
        if scene_json is not None:
            archive.writestr(ORA_SCENE_ENTRY, scene_json, compress_type=zipfile.ZIP_DEFLATED)
        # stack.xml lists the topmost layer first.
        stack = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<image version="0.0.5" w="{width}" h="{height}">\n'
            "  <stack>\n" + "\n".join(reversed(entries)) + "\n  </stack>\n</image>\n"
        )
        archive.writestr("stack.xml", stack, compress_type=zipfile.ZIP_DEFLATED)
        flat = composite(layers)
        archive.writestr("mergedimage.png", _png(flat), compress_type=zipfile.ZIP_STORED)
        flat.thumbnail((ORA_THUMBNAIL_SIDE, ORA_THUMBNAIL_SIDE))
        archive.writestr("Thumbnails/thumbnail.png", _png(flat), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def write_psd(layers: Sequence[RenderedLayer], path: str | Path) -> Path:
    path = Path(path)
    data = psd_bytes(layers)
    write_atomically(path, lambda handle: handle.write(data))
    return path


def write_ora(layers: Sequence[RenderedLayer], path: str | Path) -> Path:
    path = Path(path)
    data = ora_bytes(layers)
    write_atomically(path, lambda handle: handle.write(data))
    return path


def write_layers(result: EditResult, folder: Path) -> list[Path]:
    """Each layer as an RGBA PNG (background first), all of them as ``layers.ora`` and
    ``layers.psd`` (when psd-tools is installed) for design tools, plus the plan as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        save_image(layer.rgba, folder / f"{layer_file_stem(number, layer.name)}.png")
        for number, layer in enumerate(result.layers)
    ]
    written.append(write_ora(result.layers, folder / "layers.ora"))
    if psd_export_available():
        written.append(write_psd(result.layers, folder / "layers.psd"))
    plan_path = folder / "plan.json"
    write_atomically(plan_path, lambda handle: handle.write(result.plan.to_json(indent=2).encode()))
    written.append(plan_path)
    return written


def zip_folder(folder: Path) -> bytes:
    """The files directly inside ``folder``, in name order, as one deflated zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, arcname=path.name)
    return buffer.getvalue()
