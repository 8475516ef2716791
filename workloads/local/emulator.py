"""An embedded AWS emulator (moto's threaded server) on a free local port.

Its Step Functions run their definitions (moto's ASL interpreter, off by default): the live
lake's state machines hand each execution to the dispatcher through a queue and wait for its
task token (``workloads/local/resources.py``), so an execution ends as the run it stands for.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from moto import backends as moto_backends
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
START_SECONDS = 10.0
"""How long the server may take to bind and accept a connection before starting fails."""


class EmulatorError(RuntimeError):
    """The emulator could not start (e.g. the requested port is taken)."""


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _list_moto_modules_once() -> None:
    """Make moto's list of its service packages a constant.

    moto's server routes every request through ``backends.list_of_moto_modules``, which lists
    moto's package directory and stats each entry (about 150) each time: a third of the
    server's time per request, measured on the default local run. The list changes only
    when moto is reinstalled, so it is read once.
    """
    if getattr(moto_backends.list_of_moto_modules, "listed_once", False):
        return
    modules = tuple(moto_backends.list_of_moto_modules())

    def listed() -> tuple[str, ...]:
        return modules

    listed.listed_once = True  # type: ignore[attr-defined]
    moto_backends.list_of_moto_modules = listed


class _Server(ThreadedMotoServer):
    """moto's threaded server, whose start is bounded: ``ThreadedMotoServer.start`` waits
    for ever when the bind fails in its thread (the error never reaches the caller)."""

    def __init__(self, ip_address: str, port: int):
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.error: BaseException | None = None

    def _entry(self) -> None:
        try:
            self._server_entry()
        except BaseException as error:  # noqa: BLE001 reported by start_within
            self.error = error
            self._server_ready_event.set()

    def start_within(self, timeout: float) -> None:
        self._thread = threading.Thread(target=self._entry, name="emulator", daemon=True)
        self._thread.start()
        if not self._server_ready_event.wait(timeout) or self._server is None:
            if isinstance(self.error, SystemExit):  # werkzeug exits when the bind fails
                reason = ": the address is in use"
            elif self.error is not None:
                reason = f": {self.error}"
            else:
                reason = f": not bound within {timeout:g} s"
            raise EmulatorError(
                f"the emulator could not listen on 127.0.0.1:{self._port or 'any port'}"
                f"{reason}; choose another with --port"
            )


def _listening(port: int, timeout: float) -> bool:
    """Whether a connection to 127.0.0.1:``port`` succeeds within ``timeout`` (retried)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


_AFTER_STOP: dict[str, list[Callable[[], None]]] = {}


def after_stop(endpoint: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the emulator serving ``endpoint`` has stopped (its port free);
    never if no running emulator serves it."""
    _AFTER_STOP.setdefault(endpoint, []).append(callback)


@contextmanager
def running_emulator(region: str, port: int = 0) -> Iterator[str]:
    """Start the emulator on 127.0.0.1 (``port`` 0: any free one), yield its endpoint, stop it.

    While it runs, boto3 clients created without arguments talk to it (``AWS_ENDPOINT_URL``),
    so the handlers run unchanged. Starting fails with :class:`EmulatorError` naming the port
    unless the server accepts a connection within :data:`START_SECONDS`.
    """
    if port and not _port_is_free(port):
        raise EmulatorError(f"port {port} on 127.0.0.1 is taken; choose another with --port")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    # The interpreter logs every Fail state as an error; the dispatcher reports its runs.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    _list_moto_modules_once()
    server = _Server("127.0.0.1", port)
    try:
        server.start_within(START_SECONDS)
        host, bound = server.get_host_and_port()
        if not _listening(bound, START_SECONDS):
            raise EmulatorError(
                f"the emulator does not accept connections on 127.0.0.1:{bound}; "
                "choose another port with --port"
            )
    except BaseException:
        if server._server is not None:
            server.stop()
        raise
    endpoint = f"http://{host}:{bound}"
    names = (*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "MOTO_PORT")
    saved = {k: os.environ.get(k) for k in names}
    # The interpreter's service tasks call the server at localhost:$MOTO_PORT. The server
    # runs in this process, so its configuration is this module's; restored on exit.
    os.environ.update(
        CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=region, MOTO_PORT=str(bound)
    )
    saved_sfn = default_user_config.get("stepfunctions")
    # What ``POST /moto-api/config`` sets on a server of its own.
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        yield endpoint
    finally:
        server.stop()
        if saved_sfn is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = saved_sfn
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for callback in _AFTER_STOP.pop(endpoint, []):
            callback()
