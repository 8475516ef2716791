"""An embedded AWS emulator (moto's threaded server) on a free local port."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class EmulatorError(RuntimeError):
    """The emulator could not start (e.g. the requested port is taken)."""


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@contextmanager
def running_emulator(region: str, port: int = 0) -> Iterator[str]:
    """Start the emulator on 127.0.0.1 (``port`` 0: any free one), yield its endpoint, stop it.

    While it runs, boto3 clients created without arguments talk to it (``AWS_ENDPOINT_URL``),
    so the handlers run unchanged.
    """
    if port and not _port_is_free(port):
        raise EmulatorError(f"port {port} on 127.0.0.1 is taken; choose another with --port")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    endpoint = f"http://{host}:{bound}"
    saved = {k: os.environ.get(k) for k in (*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")}
    os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=region)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
