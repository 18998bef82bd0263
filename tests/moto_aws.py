"""moto's AWS on loopback for the tests of the AWS servers: one ``ThreadedMotoServer`` per test process (a
daemon thread, gone with the process), clients of the kit and plain boto3 clients pointed at it."""

from __future__ import annotations

import threading
from typing import Any

from shared.aws import AwsClients

__all__ = ["CREDENTIALS", "REGION", "boto", "clients", "moto_url"]

REGION = "eu-central-1"
CREDENTIALS = ("testing", "testing")

_lock = threading.Lock()
_url: str | None = None


def moto_url() -> str:
    """The endpoint of this process's moto server (started on first use)."""
    global _url
    with _lock:
        if _url is None:
            from moto.server import ThreadedMotoServer

            from tests.processes import free_port

            port = free_port()
            ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
            _url = f"http://127.0.0.1:{port}"
        return _url


def clients() -> AwsClients:
    """The kit's AWS clients on the moto server, one attempt per call (moto answers gaps with 500s)."""
    return AwsClients(region=REGION, endpoint_url=moto_url(), max_attempts=1, credentials=CREDENTIALS)


def boto(service: str) -> Any:
    """A plain boto3 client on the moto server, for seeding and checking."""
    import boto3

    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=moto_url(),
        aws_access_key_id=CREDENTIALS[0],
        aws_secret_access_key=CREDENTIALS[1],
    )
