"""How a training step runs (ifdsed.training.execution): autocast, loss scaling, memory format and compilation
from params.yaml's train section, and the settings this machine cannot run, refused by name before any work
(bad input: docs/reliability.md)."""
import contextlib
import re

import pytest
import torch

import ifdsed.devices
from ifdsed.config import ParamsError
from ifdsed.devices import DeviceError
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.training import execution as execution_module
from ifdsed.training.execution import Execution
from tests.helpers import training_params

CPU = torch.device("cpu")


def test_float32_runs_without_autocast_and_the_others_under_it():
    float32 = Execution(CPU)
    assert isinstance(float32.autocast(), contextlib.nullcontext) and float32.precision == "float32"
    with float32.autocast():
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        low = Execution(CPU, dtype)
        assert low.precision == name
        with low.autocast():
            assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == dtype
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == dtype
        assert not torch.is_autocast_enabled("cpu")                    # and only inside the block


def test_only_float16_scales_the_loss():
    assert Execution(CPU).grad_scaler() is None
    assert Execution(CPU, torch.bfloat16).grad_scaler() is None      # float32's range: nothing underflows
    scaler = Execution(CPU, torch.float16).grad_scaler()
    assert isinstance(scaler, torch.amp.GradScaler) and scaler.is_enabled()


def test_describe_gives_the_settings_as_plain_values():
    assert Execution(CPU, torch.bfloat16, compile=True).describe() == {
        "precision": "bfloat16", "compile": True, "channels_last": False}


def test_prepare_sets_the_memory_format_and_compiles_without_copying_the_weights():
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    convs = [module.weight for module in model.modules() if isinstance(module, torch.nn.Conv2d)]
    wide = [weight for weight in convs if weight.shape[1] > 1]          # one input channel: both formats at once
    assert len(convs) == 3 and wide
    assert not any(weight.is_contiguous(memory_format=torch.channels_last) for weight in wide)
    parameters = {name: value.detach().clone() for name, value in model.named_parameters()}

    assert Execution(CPU).prepare(model) is model                       # nothing asked: the model itself
    assert not any(weight.is_contiguous(memory_format=torch.channels_last) for weight in wide)
    assert Execution(CPU, channels_last=True).prepare(model) is model
    assert all(module.weight.is_contiguous(memory_format=torch.channels_last)
               for module in model.modules() if isinstance(module, torch.nn.Conv2d))
    for name, value in model.named_parameters():                        # same values, still float32
        assert value.dtype == torch.float32 and torch.equal(value, parameters[name]), name

    compiled = Execution(CPU, compile=True).prepare(model)              # compiles lazily, at the first call
    assert compiled is not model and compiled._orig_mod is model
    assert all(a is b for a, b in zip(compiled.parameters(), model.parameters()))   # the optimizer's tensors


# ------------------------------------------------------------------------------------------------ from params
def test_from_params_reads_the_train_section(monkeypatch):
    train = training_params(precision="bfloat16", compile=False, channels_last=True).train
    assert Execution.from_params(train, CPU) == Execution(CPU, torch.bfloat16, compile=False, channels_last=True)
    train = training_params(precision="float32", compile=False).train
    assert Execution.from_params(train, CPU) == Execution(CPU)
    auto = training_params(precision="auto", compile=False).train
    for native, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(ifdsed.devices, "native_bfloat16", lambda device, native=native: native)
        assert Execution.from_params(auto, CPU).dtype == dtype
    compiled = Execution.from_params(training_params(precision="float32", compile=True).train, CPU)
    assert compiled.compile                                              # this machine has a C++ compiler


def test_compile_auto_compiles_a_step_that_autocasts_or_runs_on_a_gpu_only(monkeypatch):
    """train.compile auto: a bfloat16 step on a CPU is compiled, a float32 one runs eager; on a GPU, any step."""
    for precision, compiled in (("bfloat16", True), ("float32", False)):
        train = training_params(precision=precision, compile="auto").train
        assert Execution.from_params(train, CPU).compile is compiled, precision
    auto = training_params(precision="auto", compile="auto").train
    for native, compiled in ((True, True), (False, False)):                 # auto precision: the CPU decides
        monkeypatch.setattr(ifdsed.devices, "native_bfloat16", lambda device, native=native: native)
        assert Execution.from_params(auto, CPU).compile is compiled
    cuda = torch.device("cuda")
    assert execution_module.compile_pays(cuda, torch.float32) and execution_module.compile_pays(cuda, torch.float16)
    assert training_params(compile="auto").train.compile == "auto"
    with pytest.raises(ParamsError, match="compile"):
        training_params(compile="sometimes")


# -------------------------------------------------------------------------------------------- bad input
def test_float16_on_a_cpu_is_refused_naming_the_setting():
    with pytest.raises(DeviceError) as error:
        Execution.from_params(training_params(precision="float16", compile=False).train, CPU)
    assert str(error.value).startswith("params.yaml: train.precision: float16 needs a GPU, and this run is on cpu")
    assert "'bfloat16' or 'float32'" in str(error.value)


def inductor_finds_no_compiler():
    raise RuntimeError("no compiler found")    # what inductor's own lookup raises without g++ or $CXX


@pytest.mark.parametrize("missing", ["lookup_fails", "not_on_path"])
def test_compile_without_a_cpp_compiler_is_refused_naming_the_setting(monkeypatch, missing):
    import shutil

    import torch._inductor.cpp_builder as cpp_builder
    if missing == "lookup_fails":
        monkeypatch.setattr(cpp_builder, "get_cpp_compiler", inductor_finds_no_compiler)
    else:
        monkeypatch.setattr(cpp_builder, "get_cpp_compiler", lambda: "g++")
        monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DeviceError) as error:
        Execution.from_params(training_params(precision="float32", compile=True).train, CPU)
    message = str(error.value)
    assert message.startswith("params.yaml: train.compile: true needs a C++ compiler on a CPU, and none was found")
    assert "set train.compile false" in message
    # without compilation the same machine trains
    assert not Execution.from_params(training_params(precision="float32", compile=False).train, CPU).compile


def test_compile_on_a_gpu_without_triton_is_refused_naming_the_setting(monkeypatch):
    import torch.utils._triton
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: False)
    with pytest.raises(DeviceError, match=r"^params.yaml: train.compile: true needs Triton on a GPU"):
        execution_module._check_compiler(torch.device("cuda"), "true")   # checked before any CUDA call: no GPU needed


@pytest.mark.parametrize("setting", ["precision", "compile"])
def test_training_with_a_setting_this_machine_cannot_run_stops_before_any_work(store, tmp_path, monkeypatch,
                                                                                setting):
    from ifdsed.training import loop
    import torch._inductor.cpp_builder as cpp_builder
    if setting == "precision":
        params, message = training_params(precision="float16", device="cpu"), "train.precision: float16 needs a GPU"
    else:
        monkeypatch.setattr(cpp_builder, "get_cpp_compiler", inductor_finds_no_compiler)
        params = training_params(precision="float32", compile=True, device="cpu")
        message = "train.compile: true needs a C++ compiler on a CPU"
    monkeypatch.setattr(loop, "load_feature_set", lambda *args: pytest.fail("the data were read"))
    with pytest.raises(DeviceError, match="^" + re.escape(f"params.yaml: {message}")):
        loop.train_seed(params, 1, store, tmp_path / "run")
    assert not (tmp_path / "run").exists()                      # no checkpoint, no log
