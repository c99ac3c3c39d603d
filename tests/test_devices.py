"""The torch device of params.yaml's train.device and the precision of train.precision (ifdsed.devices)."""
import pytest
import torch

import ifdsed.devices
from ifdsed.devices import DeviceError, native_bfloat16, pick_precision

CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("choice", ["cpu", "auto", "cuda", "cuda:0", "cuda:3"])
def test_train_device_is_used_or_refused_by_name(choice):
    from ifdsed.devices import pick_device
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    wanted = {"cpu": None, "auto": 0, "cuda": 0, "cuda:0": 0, "cuda:3": 3}[choice]
    if wanted is None or (choice == "auto" and gpus == 0):
        assert pick_device(choice).type == "cpu"
    elif wanted < gpus:
        assert pick_device(choice) == torch.device("cuda" if choice == "auto" else choice)
    else:
        with pytest.raises(RuntimeError, match=rf"train.device: '{choice}', but this machine has {gpus} CUDA"):
            pick_device(choice)


# ------------------------------------------------------------------------------------------------ precision
@pytest.mark.parametrize("device, native, expected", [
    (CPU, True, torch.bfloat16),      # AVX512-BF16 or AMX
    (CPU, False, torch.float32),      # torch would emulate bfloat16, slower than float32
    (GPU, True, torch.bfloat16),      # Ampere and later
    (GPU, False, torch.float16),      # older GPUs: float16 with loss scaling
])
def test_auto_precision_is_what_the_device_computes_natively(monkeypatch, device, native, expected):
    monkeypatch.setattr(ifdsed.devices, "native_bfloat16", lambda asked: asked == device and native)
    assert pick_precision("auto", device) == expected


def test_a_named_precision_is_taken_as_it_is():
    for device in (CPU, GPU):          # no CUDA call is made: the tests need no GPU
        assert pick_precision("float32", device) == torch.float32
        assert pick_precision("bfloat16", device) == torch.bfloat16
    assert pick_precision("float16", GPU) == torch.float16


def test_float16_on_a_cpu_is_refused_naming_the_setting():
    with pytest.raises(DeviceError) as error:
        pick_precision("float16", CPU)
    assert str(error.value) == ("params.yaml: train.precision: float16 needs a GPU, and this run is on cpu: use "
                                "'auto', 'bfloat16' or 'float32'")
    with pytest.raises(DeviceError, match=r"^--precision: float16 needs a GPU"):
        pick_precision("float16", CPU, "--precision")


@pytest.mark.parametrize("avx512_bf16, amx, gpu_bf16", [(True, False, True), (False, True, False),
                                                         (False, False, True), (False, False, False)])
def test_native_bfloat16_is_avx512_bf16_or_amx_on_a_cpu_and_what_the_gpu_says(monkeypatch, avx512_bf16, amx,
                                                                                gpu_bf16):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: gpu_bf16)
    assert native_bfloat16(CPU) == (avx512_bf16 or amx)
    assert native_bfloat16(GPU) == gpu_bf16
    assert native_bfloat16(torch.device("meta")) is False
