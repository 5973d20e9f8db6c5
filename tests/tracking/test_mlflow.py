"""``--log mlflow`` against a real MLflow tracking server on 127.0.0.1, read back through
MLflow's own client."""

from __future__ import annotations

import json
import logging
import time

import pytest
from mlflow import MlflowClient

from i2i.tracking import attached, metric_key, read_tracking

PROJECT = {"project": "i2i-tests"}


def history(client: MlflowClient, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def all_artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for f in client.list_artifacts(run_id, path):
        out += all_artifacts(client, run_id, f.path) if f.is_dir else [f.path]
    return out


def test_params_metrics_images_artifacts_and_the_same_run_after_resume(
    ctx, tracked_run, mlflow_env, tmp_path
):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        tracked_run(out, 5, ("mlflow",), crash_at=3, tracking=PROJECT)
    client = MlflowClient(mlflow_env.uri)
    run_id = read_tracking(out)["mlflow"]["run_id"]
    assert client.get_run(run_id).info.status == "FAILED"

    tracked_run(out, 5, ("mlflow",), resume=True, tracking=PROJECT)
    state = read_tracking(out)["mlflow"]
    assert state["run_id"] == run_id and state["status"] == "completed"
    assert state["dropped"] == 0 and state["errors"] == 0
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["i2i.status"] == "completed"
    assert run.info.run_name == "run" and run.data.tags["i2i.family"] == "pix2pix"
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "i2i-tests"
    assert [r.info.run_id for r in client.search_runs([exp.experiment_id])] == [run_id]

    params = run.data.params
    assert params["family"] == "pix2pix" and params["train.steps"] == "5"
    assert params["model.generator.arch"] == "unet" and params["train.loggers"] == "[mlflow]"
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    for key in {k for r in records for k in r if k != "step"}:  # each step once
        got = {m.step: m.value for m in client.get_metric_history(run_id, metric_key(key))}
        assert sorted(got) == [1, 2, 3, 4, 5], key
        if "/" in key:  # losses and LRs resume exactly (timings of step 3 are attempt 1's)
            assert [got[r["step"]] for r in records] == pytest.approx([r[key] for r in records])
    files = all_artifacts(client, run_id)
    assert "model/model.safetensors" in files and "config.toml" in files
    grids = [f for f in files if f.startswith("images/samples") and f.endswith(".png")]
    assert len(grids) == 3, files  # steps 2 and 4, and the end (5)

    # i2i eval and i2i export later: into the same MLflow run, at the checkpoint's step
    onnx = tmp_path / "g.onnx"
    onnx.write_bytes(b"an exported model")
    with attached(ctx, out, 5) as info:
        assert info is not None and info.start_step == 5
        ctx.hook.i2i_evaluation_done(run=info, step=5, metrics={"psnr": 21.5}, out_dir=None)
        ctx.hook.i2i_artifact_saved(run=info, path=onnx, kind="onnx", step=5)
    assert history(client, run_id, "eval/psnr") == [5]
    assert "onnx/g.onnx" in all_artifacts(client, run_id)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert json.loads((out / "evaluations.jsonl").read_text())["metrics"] == {"psnr": 21.5}
    page = (out / "index.html").read_text()
    assert 'id="evaluations"' in page and "21.5" in page and run_id in page


def test_unreachable_server_is_reported_once_and_its_records_dropped_at_the_end(
    tracked_run, dead_url, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead_url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="i2i.tracking"):
        tracked_run(out, 3, ("mlflow",), tracking={"flush_timeout": 1.0})
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    failed = [r for r in caplog.records if "tracking failed" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in caplog.records]
    dropped = [r.getMessage() for r in caplog.records if "were dropped" in r.getMessage()]
    # the metrics of steps 1-3 and the grids of step 2 and of the end
    assert dropped == ["mlflow: 5 record(s) could not be sent within 1 s and were dropped"]
    state = read_tracking(out)["mlflow"]
    assert state["dropped"] == 5 and state["errors"] >= 1 and "run_id" not in state
    assert "record(s) dropped" in (out / "index.html").read_text()


def test_mlflow_needs_a_server(tracked_run, tmp_path, monkeypatch):
    import i2i

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(i2i.ConfigError, match="MLFLOW_TRACKING_URI"):
        tracked_run(tmp_path / "run", 1, ("mlflow",))


def test_outage_mid_run_is_reported_once_and_buffered_records_arrive_later(
    tracked_run, mlflow_env, relay, on_step, tmp_path, monkeypatch, caplog
):
    """The tracker's address stops answering after step 2 and answers again after step 4
    (a relay in front of the real server goes down and up): training never waits, one line
    reports the outage, one its end, and every record arrives, once."""

    def outage(step: int) -> None:
        if step == 2:
            relay.down()
        elif step == 4:  # up again once the logger has met the outage
            deadline = time.monotonic() + 60
            while not any("tracking failed" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            relay.up()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", relay.uri)
    monkeypatch.setattr("i2i.tracking.base.RETRY_DELAYS", (0.5,))
    out = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="i2i.tracking")
    tracked_run(out, 6, ("mlflow",), plugins=(on_step(outage),), tracking=PROJECT)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([m for m in warnings if "tracking failed" in m]) == 1, warnings
    assert len([m for m in warnings if "works again" in m]) == 1, warnings
    state = read_tracking(out)["mlflow"]
    assert state["errors"] >= 1 and state["dropped"] == 0 and state["status"] == "completed"
    client = MlflowClient(mlflow_env.uri)
    assert client.get_run(state["run_id"]).info.status == "FINISHED"
    assert history(client, state["run_id"], "G/total") == [1, 2, 3, 4, 5, 6]


def test_server_killed_mid_run_training_goes_on(tracked_run, mlflow_env, on_step, tmp_path, caplog):
    """SIGKILL to the real server after step 2 (the last MLflow test: the server stays down;
    ``mlflow_env`` starts it again for any test that runs later)."""
    out = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="i2i.tracking")
    tracked_run(
        out,
        5,
        ("mlflow",),
        plugins=(on_step(lambda step: step == 2 and mlflow_env.kill()),),
        tracking={**PROJECT, "flush_timeout": 2.0},
    )
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([m for m in warnings if "tracking failed" in m]) == 1, warnings
    state = read_tracking(out)["mlflow"]
    assert state["dropped"] >= 3 and state["errors"] >= 1  # steps 3-5 at least, reported
    assert [m for m in warnings if f"mlflow: {state['dropped']} record(s)" in m]
    assert "record(s) dropped" in (out / "index.html").read_text()
