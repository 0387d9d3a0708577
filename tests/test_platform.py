"""`kseg.platform`: which kernels this process's TensorFlow runs. Both settings are checked in
child processes by tests/end_to_end/test_portability.py; here, the probe's answer in this process,
the fallback for a TensorFlow without it, and where `training.fit` turns oneDNN on."""

import os

import pytest

from kseg import platform


@pytest.fixture
def fresh_probe():
    platform.onednn_enabled.cache_clear()
    yield
    platform.onednn_enabled.cache_clear()


def test_the_probe_is_what_the_loaded_library_reports(fresh_probe):
    from tensorflow.python.util import _pywrap_util_port

    assert platform.onednn_enabled() is bool(_pywrap_util_port.IsMklEnabled())


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), (None, False)])
def test_without_the_probe_the_variable_decides(fresh_probe, monkeypatch, value, expected):
    from tensorflow.python.util import _pywrap_util_port

    monkeypatch.delattr(_pywrap_util_port, "IsMklEnabled")
    if value is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", value)
    assert platform.onednn_enabled() is expected


def test_the_answer_is_asked_once(fresh_probe, monkeypatch):
    first = platform.onednn_enabled()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0" if first else "1")  # read when TensorFlow loads, not later
    assert platform.onednn_enabled() is first


def _cpuinfo(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    platform.cpu_info.cache_clear()
    return str(path)


def test_cpu_info_reads_the_first_cpus_vendor_and_flags(tmp_path):
    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2\n\nprocessor\t: 1\nvendor_id\t: Other\nflags\t: fpu\n"
    assert platform.cpu_info(_cpuinfo(tmp_path, text)) == ("AuthenticAMD", frozenset({"fpu", "sse2", "avx", "avx2"}))
    assert platform.cpu_info(str(tmp_path / "missing")) == ("", frozenset())  # not Linux: nothing known
    platform.cpu_info.cache_clear()


@pytest.mark.parametrize(
    "vendor, flags, faster",
    [
        ("AuthenticAMD", {"avx", "avx2", "fma"}, True),  # Zen 1-3: TensorFlow leaves oneDNN off
        ("AuthenticAMD", {"avx2", "avx512f", "avx512_bf16"}, False),  # Zen 4: TensorFlow turns it on itself
        ("AuthenticAMD", {"avx"}, False),  # not measured below AVX2
        ("GenuineIntel", {"avx2", "fma"}, False),  # oneDNN at AVX2 measured slower on a Xeon
        ("", set(), False),
    ],
)
def test_onednn_is_preferred_for_training_on_amd_avx2_only(vendor, flags, faster):
    assert platform.onednn_trains_faster(vendor, frozenset(flags)) is faster


def test_the_preference_sets_the_variable_only_where_it_is_unset_and_before_tensorflow_loads(monkeypatch):
    import sys

    variable = platform.ONEDNN_VARIABLE
    monkeypatch.setattr(platform, "cpu_info", lambda: ("AuthenticAMD", frozenset({"avx2"})))
    monkeypatch.setenv(variable, "0")
    assert platform.prefer_onednn_for_training() is None and os.environ[variable] == "0"  # the user's choice
    monkeypatch.delenv(variable)
    assert platform.prefer_onednn_for_training() is None and variable not in os.environ  # TensorFlow is loaded here
    monkeypatch.delitem(sys.modules, "tensorflow")
    note = platform.prefer_onednn_for_training()
    assert os.environ[variable] == "1" and note.startswith("oneDNN on (TF_ENABLE_ONEDNN_OPTS=1)")
    assert "TF_ENABLE_ONEDNN_OPTS=0" in note  # how to keep Eigen
    monkeypatch.delenv(variable)
    monkeypatch.setattr(platform, "cpu_info", lambda: ("GenuineIntel", frozenset({"avx2"})))
    assert platform.prefer_onednn_for_training() is None and variable not in os.environ


@pytest.mark.skipif(platform.ONEDNN_VARIABLE in os.environ, reason="TensorFlow's own default is seen only with the variable unset")
def test_tensorflows_own_default_follows_the_listed_cpu_flags(fresh_probe):
    # this process loaded TensorFlow with the variable unset: what it chose is DefaultOneDnnPolicy
    vendor, flags = platform.cpu_info()
    if not flags or "avx2" not in flags:
        pytest.skip("not an x86 Linux CPU")
    assert platform.onednn_enabled() is bool(flags & platform.ONEDNN_DEFAULT_FLAGS)


def test_training_fit_turns_onednn_on_where_it_trains_faster_and_says_so():
    # a child with the variable unset, as a user's shell has it: on AMD's AVX2-only CPUs oneDNN is on
    # and the note is printed; elsewhere TensorFlow's own choice stands and nothing is said
    import json
    import subprocess
    import sys

    from tests import REPO

    env = {key: value for key, value in os.environ.items() if key != platform.ONEDNN_VARIABLE}
    code = (
        "import json, training.fit as fit; from kseg.platform import onednn_enabled; "
        "print(json.dumps([fit.ONEDNN_NOTE, onednn_enabled()]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    note, onednn = json.loads(done.stdout.strip().splitlines()[-1])
    platform.cpu_info.cache_clear()
    vendor, flags = platform.cpu_info()
    if platform.onednn_trains_faster(vendor, flags):
        assert onednn and note.startswith("oneDNN on")
    else:
        assert note is None and onednn is bool(flags & platform.ONEDNN_DEFAULT_FLAGS)
