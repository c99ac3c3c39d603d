"""Bad ONNX files are refused by name, as bad checkpoints are (ifdsed/inference/onnx_detector.py)."""
import onnx
import pytest
from onnx import TensorProto, helper

from ifdsed.inference.onnx_detector import (METADATA_KEY, TRAINING_DATA_KEY, OnnxDetector, OnnxModelError,
                                            settings_json)


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


def test_a_malformed_training_data_record_is_refused_by_name(tmp_path, detector):
    """Detector settings that read, but a training-data record that does not."""
    path = tmp_path / "bad_record.onnx"
    foreign_model(path)
    graph = onnx.load(str(path))
    for key, value in {METADATA_KEY: settings_json(detector.settings), TRAINING_DATA_KEY: '{"source": "web"}'}.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(path))
    with pytest.raises(OnnxModelError) as error:
        OnnxDetector(path)
    message = str(error.value)
    assert message.startswith(f"{path}: its {TRAINING_DATA_KEY} metadata is malformed: a training data record "
                              "holds the keys") and "\n" not in message, message
