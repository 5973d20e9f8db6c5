from __future__ import annotations

import platform
import resource
import subprocess
import sys

import pytest
import torch

from i2i.errors import ConfigError
from i2i.training import runtime
from i2i.training.trainer import lr_factor


def test_devices() -> None:
    assert runtime.resolve_device("cpu").type == "cpu"
    assert runtime.resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ConfigError, match="unknown device 'tpu9'"):
        runtime.resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
            runtime.resolve_device("cuda")


def test_precisions() -> None:
    cpu = torch.device("cpu")
    assert runtime.check_precision("fp32", cpu) is None
    assert runtime.check_precision("bf16", cpu) is torch.bfloat16
    assert runtime.check_precision("auto", cpu) is None  # bf16 only by request on CPUs
    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        runtime.check_precision("fp8", cpu)
    assert not runtime.make_grad_scaler(cpu, torch.bfloat16).is_enabled()


def test_linear_decay_schedule() -> None:
    assert [lr_factor("linear_decay", 0.5, s, 10) for s in (0, 4, 5, 7, 9)] == [
        1.0, 1.0, 1.0, 0.6, 0.19999999999999996
    ]  # fmt: skip
    assert lr_factor("constant", 0.5, 9, 10) == 1.0
    with pytest.raises(ConfigError, match="unknown schedule kind 'cosine'"):
        lr_factor("cosine", 0.5, 0, 10)


_FAULTS_SCRIPT = """
import resource, sys, torch
from i2i.training import runtime
tuned = sys.argv[1] == "1" and runtime.tune_cpu_allocator()
faults = []
for _ in range(4):  # an activation-sized block allocated, written and freed, step after step
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.ones(64 * 1024 * 1024 // 4)
    del x
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(int(tuned), min(faults[1:]))
"""


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc malloc only"
)
def test_cpu_allocator_tuning_stops_page_fault_churn() -> None:
    """A freed 64 MiB block is reused (no page faults) once tuned; by default it is faulted in
    again (mmap'd afresh) every time. Run in subprocesses: the setting is process-wide."""

    def run(tune: bool) -> tuple[bool, int]:
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS_SCRIPT, str(int(tune))],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        tuned, faults = out.stdout.split()[-2:]
        return tuned == "1", int(faults)

    tuned, faults_tuned = run(True)
    untuned, faults_default = run(False)
    assert tuned and not untuned
    pages = 64 * 1024 * 1024 // resource.getpagesize()
    assert faults_default > pages // 2  # the kernel hands out fresh zeroed pages each time
    assert faults_tuned < pages // 20
