"""Fixtures of the training tests: the toy feature store, and one tiny training run shared by several tests."""
import pytest

from tests.helpers import TRAINING_SETS, tiny_store, toy_validation, training_params, write_toy_store


@pytest.fixture
def store(tmp_path):
    """The toy feature store (tests/helpers.py) with the three training sets, and the validation set's event
    tables beside it (`toy_validation`)."""
    return write_toy_store(tmp_path / "features", TRAINING_SETS, event_tables=True)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One tiny training run straight through, and the store it used."""
    from ifdsed.training.loop import train_seed
    base = tmp_path_factory.mktemp("training")
    store = tiny_store(base / "features")
    summary = train_seed(training_params(channels=(4, 4, 4)), 1, store, base / "straight",
                         validation_folder=toy_validation(store))
    return base, store, summary
