"""Built-in plugin ``mlflow``: ``--log mlflow`` sends a run to an MLflow tracking server.

Needs ``pip install 'i2i[mlflow]'`` (the MLflow client, ``mlflow-skinny``; imported only when a
run selects it) and a server: ``train.tracking.mlflow_uri`` or ``MLFLOW_TRACKING_URI``. The run
goes to the experiment ``train.tracking.project`` (else ``MLFLOW_EXPERIMENT_NAME``, else
``i2i``) under the run folder's name. Its id is recorded in ``RUN/tracking.json``, so a resumed
run continues the same MLflow run; steps the server already holds (tag ``i2i.last_step``) are
not sent twice. What is logged under which name: docs/tracking.md.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import i2i

log = logging.getLogger("i2i.tracking")

#: MLflow's run status for each i2i run status.
MLFLOW_STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
#: MLflow's limits per ``log_batch`` request (metrics, and params or tags).
MAX_METRICS, MAX_PARAMS = 900, 100
#: Longest parameter value MLflow stores.
MAX_PARAM_LENGTH = 6000
LAST_STEP_TAG = "i2i.last_step"


def tracking_uri(settings: Any) -> str:
    """``train.tracking.mlflow_uri``, else ``$MLFLOW_TRACKING_URI`` (empty when neither)."""
    return settings.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI", "")


class MLflowLogger(i2i.ExperimentLogger):
    """Params, metrics, sample grids, evaluation files, the final model and the run status."""

    name = "mlflow"
    requires = ("mlflow",)
    extra = "mlflow"
    has_artifacts = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: Any = None
        self.run_id: str = ""

    @classmethod
    def check(cls, run_config: Any) -> None:
        super().check(run_config)
        if not tracking_uri(run_config.train.tracking):
            raise i2i.ConfigError(
                "--log mlflow needs a tracking server: set MLFLOW_TRACKING_URI=http://HOST:5000 "
                "or --set train.tracking.mlflow_uri=http://HOST:5000"
            )

    # -- opening -----------------------------------------------------------------------------
    def open(self) -> None:
        from mlflow import MlflowClient

        uri = tracking_uri(self.settings)
        self.client = MlflowClient(tracking_uri=uri)
        run = self._existing_run()
        if run is None:
            if self.attached:
                raise i2i.ConfigError("no MLflow run is recorded for this run in tracking.json")
            run = self._new_run()
        elif not self.attached:
            self.client.update_run(run.info.run_id, status="RUNNING")
            self.skip_until = int(run.data.tags.get(LAST_STEP_TAG, 0) or 0)
        self.run_id = run.info.run_id
        self.state.update(
            tracking_uri=uri,
            experiment_id=run.info.experiment_id,
            run_id=self.run_id,
            url=self._url(uri, run.info.experiment_id),
        )

    def _existing_run(self) -> Any:
        run_id = self.state.get("run_id")
        if not run_id:
            return None
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException as e:
            if getattr(e, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                raise
            log.warning(
                "mlflow: run %s recorded in tracking.json is not on %s; starting a new run",
                run_id,
                tracking_uri(self.settings),
            )
            return None

    def _new_run(self) -> Any:
        name = self.settings.project or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "i2i"
        exp = self.client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(name)
        tags = {
            "i2i.family": self.run.family,
            "i2i.run_dir": str(self.run.run_dir.resolve()),
            "i2i.version": i2i.__version__,
        }
        run_name = self.settings.name or self.run.run_dir.resolve().name
        return self.client.create_run(exp_id, run_name=run_name, tags=tags)

    @staticmethod
    def _url(uri: str, experiment_id: str) -> str:
        return uri.rstrip("/") + f"/#/experiments/{experiment_id}" if uri.startswith("http") else ""

    # -- records -----------------------------------------------------------------------------
    def log_params(self, params: dict[str, Any], config_toml: str) -> None:
        from mlflow.entities import Param, RunTag

        held = self.client.get_run(self.run_id).data.params
        values = {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()}
        new = [Param(k, v) for k, v in values.items() if k not in held]
        # MLflow params cannot change; a resume that changed one (e.g. train.steps) says so
        changed = [RunTag(f"i2i.resumed.{k}", v) for k, v in values.items() if held.get(k, v) != v]
        for i in range(0, max(len(new), len(changed)), MAX_PARAMS):
            self.client.log_batch(
                self.run_id, params=new[i : i + MAX_PARAMS], tags=changed[i : i + MAX_PARAMS]
            )
        self.client.log_text(self.run_id, config_toml, "config.toml")

    def log_metrics(self, records: list[tuple[int, dict[str, float], float]]) -> None:
        from mlflow.entities import Metric, RunTag

        metrics = [
            Metric(key, value, int(wall * 1000), step)
            for step, values, wall in records
            for key, value in values.items()
        ]
        last = max(step for step, _, _ in records)
        for i in range(0, len(metrics), MAX_METRICS):
            tags = [RunTag(LAST_STEP_TAG, str(last))] if i + MAX_METRICS >= len(metrics) else []
            self.client.log_batch(self.run_id, metrics=metrics[i : i + MAX_METRICS], tags=tags)

    def log_image(self, step: int, key: str, image: Any) -> None:
        self.client.log_image(self.run_id, image, key=key, step=step, synchronous=True)

    def log_evaluation(self, step: int, metrics: dict[str, float], out_dir: Path | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(f"eval/{k}", float(v), now, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)
        if out_dir is not None and Path(out_dir).is_dir():
            for f in sorted(Path(out_dir).iterdir()):  # the reports, not any image folders
                if f.is_file() and f.suffix in (".json", ".csv"):
                    self.client.log_artifact(self.run_id, str(f), f"eval/step_{step:07d}")

    def log_artifact(self, path: Path, kind: str, step: int) -> None:
        path = Path(path)
        if kind == "model" and path.is_dir():
            path = path / "model.safetensors"
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), kind)
        elif path.is_file():
            self.client.log_artifact(self.run_id, str(path), kind)
        self.client.set_tag(self.run_id, f"i2i.{kind}_step", str(step))

    def close(self, status: str | None) -> None:
        if self.client is None or not self.run_id or status is None:
            return
        self.client.set_tag(self.run_id, "i2i.status", status)
        self.client.set_terminated(self.run_id, MLFLOW_STATUS[status])

    def describe(self) -> str:
        run_id = self.state.get("run_id")
        if not run_id:
            return f"no run started on {tracking_uri(self.settings)}"
        url = self.state.get("url")
        where = f"{url}/runs/{run_id}" if url else self.state.get("tracking_uri", "")
        return f"run {run_id} ({where})"


@i2i.hookimpl
def i2i_register_loggers(registrar: i2i.Registrar) -> None:
    registrar.add(MLflowLogger.name, MLflowLogger)


__all__ = ["MLflowLogger"]
