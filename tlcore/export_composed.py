"""One ONNX model from a frozen backbone and a head that converts itself (e.g. a scikit-learn pipeline).

The backbone (with preprocessing inside) is exported by torch, the head by its own ``to_onnx``
(skl2onnx for scikit-learn heads), and the two graphs are joined with ``onnx.compose``. The
result has the same inputs, outputs (``logits`` as log-probabilities, ``probabilities``),
metadata and parity gate as a neural export, so :class:`~tlcore.predictor.OnnxPredictor` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tlcore.backbone import DataConfig
from tlcore.export import (
    ExportParityError,
    Layout,
    ParityReport,
    PreprocessingWrapper,
    export_graph,
    onnx_metadata,
    staged_file,
)
from tlcore.model import TransferModel


def _rename(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in graph.output:
        if value.name == old:
            value.name = new


def compose(backbone_model: Any, head_model: Any) -> Any:
    """Join ``images -> features`` with ``features -> label, probabilities``; add ``logits = log(p)``."""
    import onnx
    from onnx import compose as onnx_compose
    from onnx import helper

    default = next(o.version for o in backbone_model.opset_import if o.domain == "")
    head_default = next((o.version for o in head_model.opset_import if o.domain == ""), default)
    if head_default != default:  # skl2onnx emits the lowest opset it needs; lift it to the backbone's
        head_model = onnx.version_converter.convert_version(head_model, default)
    head_model = onnx_compose.add_prefix(head_model, "head_")
    head_model.ir_version = backbone_model.ir_version
    opsets = {o.domain: o.version for o in backbone_model.opset_import}
    for opset in head_model.opset_import:
        if opset.domain not in opsets:
            backbone_model.opset_import.append(helper.make_opsetid(opset.domain, opset.version))
    merged = onnx_compose.merge_models(backbone_model, head_model, io_map=[("features", "head_features")])
    graph = merged.graph
    probabilities = next(o.name for o in graph.output if "probabilities" in o.name)
    _rename(graph, probabilities, "probabilities")
    clipped = helper.make_node("Clip", ["probabilities", "clip_min"], ["clipped_probabilities"])
    graph.initializer.append(onnx.numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "clip_min"))
    graph.node.extend([clipped, helper.make_node("Log", ["clipped_probabilities"], ["logits"])])
    outputs = [o for o in graph.output if o.name == "probabilities"]
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [None, None]), *outputs])
    return merged


def export_composed(model: TransferModel, path: str | Path, data_config: DataConfig, class_names: Sequence[str],
                    images: torch.Tensor, *, channels: int | None = None, layout: Layout = "NHWC",
                    tolerance: float = 1e-4, metadata: dict[str, Any] | None = None) -> ParityReport:
    """Export backbone and a self-converting head (``model.head.to_onnx()``) as one ONNX file.

    The parity gate compares probabilities with the head's own ``predict_proba`` on torch features.

    Raises:
        ExportParityError: Probabilities differ beyond ``tolerance`` or top-1 disagrees.
    """
    import onnx
    import onnxruntime as ort

    channels = channels or data_config.in_chans
    features = PreprocessingWrapper(model.backbone, data_config, channels, layout, probabilities=False).eval()
    reference = PreprocessingWrapper(model, data_config, channels, layout).eval()  # the same preprocessing in torch
    path = Path(path)
    with staged_file(path) as tmp:
        export_graph(features, images[:2], tmp, ["features"])
        merged = compose(onnx.load(str(tmp)), model.head.to_onnx("features"))  # type: ignore[operator]
        meta = onnx_metadata(reference, data_config, data_config.input_size[1], class_names, metadata or {})
        for key, value in meta.items():
            merged.metadata_props.add(key=key, value=value)
        onnx.save(merged, str(tmp))
        onnx.checker.check_model(str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            expected = reference(images)[1].numpy()
        actual = session.run(["probabilities"], {"images": images.numpy()})[0]
        single = np.concatenate([session.run(["probabilities"], {"images": images[i:i + 1].numpy()})[0]
                                 for i in range(len(images))])
        diff = float(max(np.abs(actual - expected).max(), np.abs(single - expected).max()))
        agreement = float(np.mean(actual.argmax(1) == expected.argmax(1)))
        odd = images.numpy()[np.arange(3) % len(images)]
        dynamic = session.run(["probabilities"], {"images": odd})[0].shape[0] == 3
        report = ParityReport(diff, agreement, len(images), sorted({1, 3, len(images)}), dynamic, tolerance)
        if not report.passed():
            raise ExportParityError(f"composed ONNX parity gate failed: max |probability difference| {diff:.3g} "
                                    f"(tolerance {tolerance:g}), top-1 agreement {agreement:.3f}, dynamic batch "
                                    f"{dynamic}. Nothing was written to {path}.")
    return report

