"""Experiment tracking: observers that send a run to TensorBoard, MLflow or Weights & Biases.

``i2i train FAMILY DATA --log tensorboard --log mlflow`` (or ``train.loggers`` in the config)
selects loggers by name from the ``loggers`` registry (``i2i_register_loggers``); each is an
observer plugin built on :class:`ExperimentLogger`, which handles queuing, buffering and
failures for every tool alike. The built-in results page (:mod:`i2i.tracking.report`) is one
more observer of the same hooks. See docs/tracking.md.

Modules: ``base`` (ExperimentLogger, the failure policy), ``session`` (which loggers a run has,
``RUN/tracking.json``, attaching to a finished run), ``tensorboard``, ``mlflow``, ``wandb`` (one
per tool, each a built-in plugin that imports its library only when a run selects it) and
``report`` (the HTML results page).
"""

from __future__ import annotations

from i2i.tracking.base import ExperimentLogger, flat_config, metric_key
from i2i.tracking.session import TRACKING_FILE, TrackingSession, attached, read_tracking

__all__ = [
    "TRACKING_FILE",
    "ExperimentLogger",
    "TrackingSession",
    "attached",
    "flat_config",
    "metric_key",
    "read_tracking",
]
