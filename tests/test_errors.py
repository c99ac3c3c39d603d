"""ifdsed.errors: every error a user can act on shares one base class, and a stage reports it in one line."""
import pytest

from ifdsed.config import ParamsError
from ifdsed.dcase.metadata import MetadataError, MissingAudioError
from ifdsed.devices import DeviceError
from ifdsed.errors import AudioError, IfdsedError, InputError, run_stage
from ifdsed.features.logmel import FeatureError
from ifdsed.models.checkpoint import CheckpointError
from ifdsed.scenes.render import RenderError


@pytest.mark.parametrize("error", [ParamsError, InputError, AudioError, MetadataError, MissingAudioError,
                                   FeatureError, RenderError, CheckpointError, DeviceError])
def test_every_user_error_is_an_ifdsed_error(error):
    assert issubclass(error, IfdsedError)


def test_run_stage_prints_a_user_error_in_one_line_and_exits_1(capsys):
    def main():
        raise InputError("data/x.tsv:3: no such class 'Dgo'")
    with pytest.raises(SystemExit) as stopped:
        run_stage("features", main)
    assert stopped.value.code == "features: data/x.tsv:3: no such class 'Dgo'"   # printed on stderr, status 1


def test_run_stage_passes_the_status_through_and_keeps_a_bug_s_traceback():
    with pytest.raises(SystemExit) as stopped:
        run_stage("train", lambda: 2)
    assert stopped.value.code == 2
    with pytest.raises(SystemExit) as stopped:
        run_stage("train", lambda: None)
    assert stopped.value.code == 0
    with pytest.raises(ZeroDivisionError):
        run_stage("train", lambda: 1 / 0)
