"""The torch device of params.yaml's train.device (ifdsed.devices)."""
import pytest
import torch


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
