"""A tiny ONNX model with IS-Net's inputs and outputs, built in code.

Its "foreground probability" is the pixel's brightness: output = clip(mean over RGB of the input
+ 0.5, 0, 1) = mean(RGB) / 256 for input (RGB − 128) / 256. A white shape on black is an object
(0.996), grey 100 is not (0.39): every crop, threshold, component and alpha is known in advance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

SIDE = 1024


def save_tiny_isnet(path: Path, input_name: str = "input", output_name: str = "output") -> Path:
    half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("ReduceMean", [input_name, "axes"], ["mean"], keepdims=1),
        helper.make_node("Add", ["mean", "half"], ["shifted"]),
        helper.make_node("Clip", ["shifted", "zero", "one"], [output_name]),
    ]
    graph = helper.make_graph(
        nodes,
        "brightness_isnet",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, 1, SIDE, SIDE])],
        initializer=[half, zero, one, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8  # readable by every onnxruntime this project supports
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def brightness(image: np.ndarray) -> np.ndarray:
    """The tiny model's probability for ``image`` seen at full size (no resizing)."""
    return image.astype(np.float32).mean(axis=2) / 256
