"""``i2i-run serve`` / ``i2i serve``: an HTTP translation service on Starlette + uvicorn.

See :mod:`i2i_runtime.serve.app` for the API. Starlette, uvicorn and python-multipart are the
``serve`` extra (``pip install 'i2i-runtime[serve]'``) and are imported only here.
"""

from __future__ import annotations

import logging
import signal
import threading

from ..engine import Engine
from ..errors import ConfigError
from .app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app", "require_server_stack", "serve"]

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def require_server_stack() -> None:
    """Raise one line when Starlette or uvicorn is missing.

    Raises:
        ConfigError: the ``serve`` extra is not installed.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ConfigError(
            f"the server needs Starlette and uvicorn ({e.name} is missing): "
            "pip install 'i2i-runtime[serve]' (or 'i2i[serve]')"
        ) from None


def serve(
    engine: Engine,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
    model_name: str = "",
    graceful_timeout_s: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve ``engine`` until SIGINT/SIGTERM, then shut down gracefully.

    On a signal uvicorn stops accepting connections and waits up to ``graceful_timeout_s`` for
    the requests in flight; then the batcher answers what is still queued and the engine is
    closed.

    Raises:
        ConfigError: the server stack is missing, or a bad port.
    """
    require_server_stack()
    import uvicorn

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {port}")
    app = create_app(engine, config, model_name)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=int(graceful_timeout_s),
            access_log=False,
        )
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    # that was installed before it: this one, so a graceful stop ends with exit status 0
    caught: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    before = (
        {sig: signal.signal(sig, lambda s, _f: caught.append(s)) for sig in _SIGNALS}
        if main
        else {}
    )
    try:
        server.run()
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if caught:
        log.info("stopped by %s after a graceful shutdown", signal.Signals(caught[0]).name)
