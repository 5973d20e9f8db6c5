from __future__ import annotations

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
