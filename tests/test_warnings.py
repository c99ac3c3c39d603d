"""dcase_util's pkg_resources deprecation warning is silenced where it is raised, and only that one
(ifdsed/__init__.py); other warnings still show."""
import subprocess
import sys

from tests.helpers import ROOT


def stderr_of(code: str) -> str:
    return subprocess.run([sys.executable, "-W", "default", "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120).stderr


def test_the_dependency_warning_is_silenced_and_others_are_not():
    assert "pkg_resources is deprecated" in stderr_of("import sed_eval")        # the warning exists without ifdsed
    shown = stderr_of("import ifdsed, sed_eval, warnings; warnings.warn('another warning')")
    assert "pkg_resources" not in shown and "UserWarning: another warning" in shown, shown
