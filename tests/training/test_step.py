"""One optimisation step (ifdsed.training.step): mixed precision trains a tiny model on tiny data with float32
weights, optimizer state and losses; the float32 step is the eager step it always was; compilation changes
rounding only."""
import numpy as np
import pytest
import torch

from ifdsed.devices import torch_threads
from ifdsed.features.normalize import Normalizer
from ifdsed.features.store import load_feature_set, load_normalization
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.batches import MixedBatches
from ifdsed.training.execution import Execution
from ifdsed.training.step import optimisation_step
from tests.helpers import make_batch, train_step

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as training_params sets: tiny steps on more threads only wait for each other."""
    with torch_threads(1):
        yield


def tiny_model(seed: int = 0) -> SEDModel:
    torch.manual_seed(seed)
    return SEDModel(ModelConfig(channels=(4, 4, 4), ifd=True, sedb=True))


def toy_batches(store) -> MixedBatches:
    """The training batches of the toy store (tests/helpers.py), 8 clips each."""
    mean, std = load_normalization(store)
    return MixedBatches(load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train"),
                        Normalizer(mean, std), batch_size=8, synthetic_fraction=0.5, seed=1)


def floating_dtypes(model: SEDModel, optimizer: torch.optim.Optimizer) -> set[torch.dtype]:
    tensors = list(model.state_dict().values()) + [value for state in optimizer.state.values()
                                                   for value in state.values() if torch.is_tensor(value)]
    return {tensor.dtype for tensor in tensors if tensor.is_floating_point()}


# bfloat16 autocast runs on any CPU (emulated where it is not native, only slower): no skip on older CPUs.
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16_with_loss_scaling"])
def test_mixed_precision_trains_a_tiny_model_and_keeps_everything_else_float32(store, dtype):
    # float16 needs a GPU in training (ifdsed.devices.pick_precision); CPU autocast runs it all the same, which
    # tests its loss-scaling path (GradScaler) on a machine without one.
    execution = Execution(CPU, dtype)
    scaler = execution.grad_scaler()
    assert (scaler is not None) == (dtype == torch.float16)
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    forward_dtypes, loss_input_dtypes = set(), set()
    model.encoder.register_forward_hook(lambda module, args, output: forward_dtypes.add(output.dtype))
    losses_of = model.losses

    def recorded_losses(outputs, batch, lambda_ifd=None):
        loss_input_dtypes.update(value.dtype for value in outputs.values() if value.is_floating_point())
        return losses_of(outputs, batch, lambda_ifd)

    model.losses = recorded_losses
    batches = toy_batches(store)
    epoch_losses = []
    for epoch in range(6):
        steps = [optimisation_step(model, model, optimizer, batch, execution, scaler) for batch in batches.epoch(epoch)]
        for losses in steps:   # the loss terms in float32 (the IFD pair counts are integers), detached, on the device
            assert {value.dtype for value in losses.values() if value.is_floating_point()} == {torch.float32}
            assert all(value.device == CPU and not value.requires_grad for value in losses.values())
        epoch_losses.append(np.mean([float(losses["total"]) for losses in steps]))
    assert forward_dtypes == {dtype}                                       # the forward did run in low precision
    assert loss_input_dtypes == {torch.float32}                            # and the losses saw float32 outputs
    assert all(np.isfinite(epoch_losses)) and epoch_losses[-1] < 0.8 * epoch_losses[0], epoch_losses
    assert floating_dtypes(model, optimizer) == {torch.float32}            # weights and Adam's moments
    if scaler is not None:
        assert scaler.get_scale() > 0 and scaler.state_dict()["_growth_tracker"] > 0   # steps were taken


def test_the_float32_step_is_the_eager_step_bit_for_bit():
    batch = make_batch(n_clips=8, n_frames=20, device="cpu")
    models = [tiny_model(), tiny_model()]
    optimizers = [torch.optim.Adam(model.parameters(), lr=0.01) for model in models]
    execution = Execution(CPU)
    for _ in range(3):
        before = train_step(models[0], optimizers[0], batch)
        losses = optimisation_step(models[1], models[1], optimizers[1], batch, execution)
        assert float(losses["total"]) == before
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values()):
        assert torch.equal(a, b), name


def test_a_compiled_float32_step_matches_the_eager_one_to_rounding():
    """Compilation fuses and reorders float operations: the same step up to rounding (SGD, so that the update
    is the gradient itself; Adam's first step would turn a rounding difference of a near-zero gradient into a
    full-size step)."""
    batch = make_batch(n_clips=8, n_frames=20, device="cpu")
    eager, compiled = tiny_model(), tiny_model()
    results = []
    for model, execution in ((eager, Execution(CPU)), (compiled, Execution(CPU, compile=True))):
        net = execution.prepare(model)
        assert (net is not model) == execution.compile
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        results.append(optimisation_step(net, model, optimizer, batch, execution))
    for key in results[0]:
        torch.testing.assert_close(results[1][key], results[0][key], rtol=1e-4, atol=1e-5, msg=key)
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        assert b.dtype == a.dtype == (torch.float32 if a.is_floating_point() else torch.int64), name
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)
    initial = tiny_model()
    assert any(not torch.equal(a, b) for a, b in zip(eager.parameters(), initial.parameters()))  # it did step


def test_an_ifd_warm_up_step_trains_the_encoder_exactly_as_without_the_ifd_branch():
    """lambda_ifd 0 (train.ifd_warmup): the IFD term is computed and logged, but the shared weights take the
    step the model without an IFD branch takes."""
    torch.manual_seed(0)
    with_ifd = SEDModel(ModelConfig(channels=(4, 4, 4), ifd=True))
    without = SEDModel(ModelConfig(channels=(4, 4, 4)))
    without.load_state_dict({key: value for key, value in with_ifd.state_dict().items()
                             if not key.startswith("ifd.")})
    batch = make_batch(n_clips=8, n_frames=12, device=CPU)
    execution = Execution(CPU)
    for model, lambda_ifd in ((with_ifd, 0.0), (without, None)):
        losses = optimisation_step(model, model, torch.optim.Adam(model.parameters(), lr=0.01), batch, execution,
                                   lambda_ifd=lambda_ifd)
        assert ("ifd" in losses) == (model is with_ifd)
    shared = without.state_dict()
    for key, value in with_ifd.state_dict().items():
        if not key.startswith("ifd."):
            assert torch.equal(value, shared[key]), key
