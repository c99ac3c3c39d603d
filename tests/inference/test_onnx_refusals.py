"""Bad ONNX files are refused by name, as bad checkpoints are (ifdsed/inference/onnx_detector.py)."""
import onnx
import pytest
from onnx import TensorProto, helper

from ifdsed.inference.onnx_detector import OnnxDetector, OnnxModelError


def foreign_model(path):
    """A valid ONNX graph of another project: y = relu(x), no detector metadata."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "foreign",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("name, write, phrase", [
    ("junk.onnx", lambda p: p.write_bytes(b"this is not a protobuf at all \x00\xff" * 10),
     "not an ONNX model ONNX Runtime can load"),
    ("text.onnx", lambda p: p.write_text("hello\n"), "not an ONNX model ONNX Runtime can load"),
    ("foreign.onnx", foreign_model, "not a detector of this project: no ifdsed"),
    ("absent.onnx", lambda p: None, "no such ONNX file"),
])
def test_bad_onnx_files_are_refused_by_name(tmp_path, name, write, phrase):
    path = tmp_path / name
    write(path)
    with pytest.raises(OnnxModelError) as error:
        OnnxDetector(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {phrase}") and "\n" not in message, message
