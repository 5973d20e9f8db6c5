"""``--log tensorboard``: event files read back with TensorBoard's own reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from i2i.tracking import metric_key, read_tracking


def read_events(logdir: Path) -> EventAccumulator:
    ea = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


def test_scalars_images_config_status_and_resume_without_duplicates(tracked_run, tmp_path):
    out = tmp_path / "run"
    # attempt 1 dies after step 3 was logged; its last checkpoint is step 2
    with pytest.raises(RuntimeError, match="simulated crash"):
        tracked_run(out, 5, ("tensorboard",), crash_at=3)
    assert read_tracking(out)["tensorboard"]["status"] == "failed"
    assert [e.step for e in read_events(out / "tensorboard").Scalars("G/total")] == [1, 2, 3]

    tracked_run(out, 5, ("tensorboard",), resume=True)
    state = read_tracking(out)["tensorboard"]
    assert state["logdir"] == str((out / "tensorboard").resolve())
    assert state["status"] == "completed" and state["dropped"] == 0 and state["errors"] == 0
    assert len(list((out / "tensorboard").glob("events.out.tfevents.*"))) == 2  # same logdir

    ea = read_events(out / "tensorboard")
    records = metrics(out)
    keys = {k for r in records for k in r if k != "step"}
    assert {"G/total", "D/total", "lr/G", "sec_per_step", "images_per_sec"} <= keys
    assert "skipped_images" in keys
    for key in keys:  # every logged value, each step exactly once (step 3: the resumed one)
        events = ea.Scalars(metric_key(key))
        assert [e.step for e in events] == [1, 2, 3, 4, 5], key
        for e, r in zip(events, records, strict=True):
            assert e.value == pytest.approx(r[key], rel=1e-6, abs=1e-9), (key, e.step)
    assert [e.step for e in ea.Images("samples")] == [2, 4, 5]  # sample_every 2, and the end
    png = ea.Images("samples")[-1]
    assert png.encoded_image_string.startswith(b"\x89PNG") and png.width > 32

    config = ea.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert 'family = "pix2pix"' in config and "loggers" in config
    statuses = [t.tensor_proto.string_val[0] for t in ea.Tensors("status/text_summary")]
    assert statuses == [b"failed at step 3", b"completed at step 5"]  # one per attempt
    hp = ea.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(hp["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["train.steps"].number_value == 5
    assert start.session_start_info.hparams["model.generator.arch"].string_value == "unet"
    page = (out / "index.html").read_text()
    assert "tensorboard" in page and "completed" in page


def test_unknown_or_missing_logger_is_one_line_before_training(tracked_run, tmp_path, monkeypatch):
    import i2i

    with pytest.raises(i2i.errors.UnknownNameError, match="tensorbaord.*tensorboard"):
        tracked_run(tmp_path / "a", 1, ("tensorbaord",))
    from i2i.tracking.tensorboard import TensorBoardLogger

    monkeypatch.setattr(TensorBoardLogger, "requires", ("tensorboard_not_installed",))
    with pytest.raises(i2i.ConfigError, match=r"pip install 'i2i\[tensorboard\]'"):
        tracked_run(tmp_path / "b", 1, ("tensorboard",))
    assert not (tmp_path / "b" / "checkpoints").exists()
