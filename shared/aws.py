"""AWS: cached boto3 clients, the one translation of AWS failures into the kit's errors, and the AWS part.

:class:`AwsClients` builds one boto3 session lazily and one client per service (adaptive retries, bounded
timeouts, an ``afu9/<version>`` user agent); :meth:`AwsClients.call` runs an operation in a worker thread
and raises only the kit's errors, so tool bodies hold no try/except. :class:`AwsPart` is the readiness of
AWS (region, credentials, STS reachable) as a :class:`~shared.deps.Dependency`.

boto3 lives in the ``aws`` extra: it is imported on first use, never when this module is imported.
Messages carry AWS's own text (first line, redacted, bounded) and always the region.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel, Field

from shared.deps import Dependency, Health
from shared.errors import (
    CallError,
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotConfigured,
    NotFound,
    RateLimited,
    UpstreamError,
)
from shared.redaction import redact_text
from shared.version import version

__all__ = [
    "CREDENTIAL_SETTINGS",
    "REGION_SETTING",
    "AwsClients",
    "AwsPart",
    "Located",
    "ecs_clusters",
    "ecs_services",
]

REGION_SETTING = "AWS_REGION"
CREDENTIAL_SETTINGS = "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or an instance/task role)"

CONNECT_TIMEOUT = 5  # seconds to open a connection to AWS
READ_TIMEOUT = 30  # seconds to wait for an answer
PROBE_TIMEOUT = 2  # seconds (connect and read) of the readiness probe's single attempt
THROTTLE_RETRY_AFTER = 10.0  # seconds suggested after throttling (AWS gives no time; boto3 already retried)
CHECK_CACHE_SECONDS = 60.0  # how long a successful readiness check is reused
MAX_TEXT = 300  # characters of AWS text in a message

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"}
)
CREDENTIALS_REJECTED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
    }
)
NOT_FOUND_CODES = frozenset(
    {"ResourceNotFoundException", "NoSuchEntity", "ServiceNotFoundException", "ClusterNotFoundException"}
)
CONFLICT_CODES = frozenset(
    {
        "ConflictException",
        "ResourceConflictException",
        "ResourceInUseException",
        "ConditionalCheckFailedException",
        "EntityAlreadyExists",
    }
)
INVALID_CODES = frozenset(
    {
        "ValidationError",
        "ValidationException",
        "InvalidParameter",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidParameterCombination",
        "MissingParameter",
        "InvalidInput",
        "InvalidRequest",
        "InvalidRequestException",
        "SerializationException",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# Operations that only read: when one fails, nothing was changed.
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Search", "Filter", "Query", "Scan", "Select")


class Located(BaseModel):
    """What every answer read from AWS starts with: the account and region it came from."""

    account: str = Field(description="AWS account the answer came from.")
    region: str = Field(description="AWS region the answer came from.")


class AwsClients:
    """One lazily built boto3 session and one cached client per AWS service.

    ``region`` (``None``: boto3's own resolution, ``AWS_DEFAULT_REGION`` or the profile's region),
    ``profile`` (a named profile of the AWS config files), ``endpoint_url`` (an emulator; botocore also
    honours ``AWS_ENDPOINT_URL`` itself), ``max_attempts`` (boto3's adaptive retries, first try included) and
    ``credentials`` (an access key id and secret given directly, as to an emulator; default: boto3's chain).
    Building it does no work; the session and clients are made on first use, in a worker thread.
    """

    def __init__(
        self,
        region: str | None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.region = region or None
        self.credentials = credentials
        self.profile = profile or None
        self.endpoint_url = endpoint_url or None
        self.max_attempts = max(1, max_attempts)
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, bool], Any] = {}
        self._resolved_region: str | None = None
        self._identity: tuple[str, str] | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *, max_attempts: int = 5) -> AwsClients:
        """Clients configured by the standard variables: ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``),
        ``AWS_PROFILE`` and ``AWS_ENDPOINT_URL`` (``environ`` defaults to ``os.environ``)."""
        env = os.environ if environ is None else environ
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            profile=env.get("AWS_PROFILE"),
            endpoint_url=env.get("AWS_ENDPOINT_URL"),
            max_attempts=max_attempts,
        )

    def client(self, service: str) -> Any:
        """The cached boto3 client of ``service`` (e.g. ``"ecs"``), made on first use.

        Blocking the first time (it reads config files and service models): async code uses :meth:`call`.
        Raises :class:`~shared.errors.NotConfigured` when there is no region or the profile does not exist.
        """
        return self._run(service, "", {}, probe=False, call=False)

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """Run ``operation`` of ``service`` (``"DescribeServices"`` or ``"describe_services"``) with ``params``
        in a worker thread and return AWS's answer; every failure raises one of the kit's errors."""
        return await asyncio.to_thread(self._run, service, operation, params, probe=False, call=True)

    async def identity(self) -> tuple[str, str]:
        """``(account id, region)`` of the credentials, from STS ``GetCallerIdentity``; cached after the first
        success (answers of AWS tools state both)."""
        if self._identity is None:
            self._identity = await asyncio.to_thread(self._caller_identity, probe=False)
        return self._identity

    async def located(self) -> dict[str, Any]:
        """The fields of :class:`Located` for an answer (from :meth:`identity`)."""
        account, region = await self.identity()
        return {"account": account, "region": region}

    async def fresh_identity(self) -> tuple[str, str]:
        """``(account id, region)`` asked of STS now, in one quick attempt (readiness probes use it); a success
        also refreshes what :meth:`identity` returns."""
        self._identity = await asyncio.to_thread(self._caller_identity, probe=True)
        return self._identity

    def close(self) -> None:
        """Close the cached clients' connections and forget them (the next use makes new ones)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _caller_identity(self, *, probe: bool) -> tuple[str, str]:
        answer = self._run("sts", "GetCallerIdentity", {}, probe=probe, call=True)
        return str(answer["Account"]), self._resolved_region or ""

    def _run(self, service: str, operation: str, params: Mapping[str, Any], *, probe: bool, call: bool) -> Any:
        """Make (or reuse) the client and, when ``call``, run the operation; boto3's errors become kit errors."""
        from botocore.exceptions import BotoCoreError, ClientError  # pyright: ignore[reportMissingTypeStubs]
        from botocore.parsers import ResponseParserError  # pyright: ignore[reportMissingTypeStubs]

        action = f"{service}:{operation}" if operation else service
        try:
            client = self._client(service, probe=probe)
            if not call:
                return client
            method, api = _operation(client, service, operation)
            action = f"{client.meta.service_model.signing_name or service}:{api}"
            return getattr(client, method)(**params)
        except (BotoCoreError, ClientError, ResponseParserError) as error:
            translated = self._translate(error, service, action)
            if translated is None:
                raise
            raise translated from error

    def _client(self, service: str, *, probe: bool) -> Any:
        with self._lock:
            client: Any = self._clients.get((service, probe))
            if client is not None:
                return client
            session: Any = self._session
            if session is None:
                from boto3.session import Session  # pyright: ignore[reportMissingTypeStubs]

                key_id, secret = self.credentials or (None, None)
                session = self._session = Session(
                    profile_name=self.profile,
                    region_name=self.region,
                    aws_access_key_id=key_id,
                    aws_secret_access_key=secret,
                )
            region = self.region or cast("str | None", session.region_name)
            if not region:
                raise NotConfigured("AWS", REGION_SETTING, what="This needs an AWS region")
            self._resolved_region = region
            client = session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=self._config(probe)
            )
            self._clients[(service, probe)] = client
            return client

    def _config(self, probe: bool) -> Any:
        from botocore.config import Config  # pyright: ignore[reportMissingTypeStubs]

        return Config(
            retries={"mode": "standard", "max_attempts": 1}
            if probe
            else {"mode": "adaptive", "max_attempts": self.max_attempts},
            user_agent_extra=f"afu9/{version()}",
            connect_timeout=PROBE_TIMEOUT if probe else CONNECT_TIMEOUT,
            read_timeout=PROBE_TIMEOUT if probe else READ_TIMEOUT,
        )

    def _translate(self, error: Exception, service: str, action: str) -> CallError | None:
        """The kit's error for a boto3 failure of ``action`` (``ecs:DescribeServices``); ``None``: a bug of ours."""
        from botocore import exceptions as aws  # pyright: ignore[reportMissingTypeStubs]

        region = self._resolved_region or self.region
        where = f"in region {region}" if region else "with no region set"
        api = action.partition(":")[2]
        if isinstance(error, aws.ClientError):
            return _client_error(error, service, action, where)
        if isinstance(error, aws.NoRegionError):
            return NotConfigured("AWS", REGION_SETTING, what="This needs an AWS region")
        if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
            return NotConfigured("AWS", CREDENTIAL_SETTINGS, what="This needs an AWS identity (credentials)")
        if isinstance(error, aws.ProfileNotFound):
            what = f"This needs the AWS profile {self.profile!r} (not in the AWS config files)"
            return NotConfigured("AWS", CREDENTIAL_SETTINGS, what=what)
        if isinstance(error, aws.ParamValidationError):
            text = _clean(" ".join(str(error).split()))
            return InvalidRequest(f"The parameters of {action} {where} do not fit the AWS API: {text}. Fix them.")
        because = f"({type(error).__name__})"
        if isinstance(error, aws.ConnectionError):  # endpoint, connect timeout, proxy, TLS: nothing was sent
            return DependencyUnavailable(
                f"Could not reach AWS {service} {where} for {action} {because}. Nothing was changed by this call. "
                "Retry later."
            )
        if type(error).__name__ == "ResponseParserError":  # an answer that is not AWS's (a proxy's page, an emulator)
            return UpstreamError(
                f"AWS {service} answered {action} {where} with something that is not an AWS answer {because}. "
                f"{_outcome(api)} Retry later."
            )
        if isinstance(error, aws.HTTPClientError):  # read timeout, connection dropped: it may have been sent
            return DependencyUnavailable(
                f"AWS {service} did not answer {action} {where} {because}. {_outcome(api)} Retry later."
            )
        return None


class AwsPart(Dependency):
    """AWS as a part of a server: ready when a region and credentials are set and STS answers.

    ``check()``: not configured (naming ``AWS_REGION`` or the credential settings), down (STS cannot be
    reached or refuses the credentials) or up (``account <id>, region <name>``); a success is reused for
    ``cache_seconds`` so readiness probes do not spend an STS call each.
    """

    def __init__(
        self,
        clients: AwsClients,
        *,
        name: str = "aws",
        required: bool = True,
        cache_seconds: float = CHECK_CACHE_SECONDS,
    ) -> None:
        self.name = name
        self.required = required
        self.clients = clients
        self.cache_seconds = cache_seconds
        self._last_up: tuple[float, Health] | None = None

    async def check(self) -> Health:
        """AWS's readiness now (or the last success, when younger than ``cache_seconds``)."""
        if self._last_up is not None and time.monotonic() - self._last_up[0] < self.cache_seconds:
            return self._last_up[1]
        self._last_up = None
        try:
            account, region = await self.clients.fresh_identity()
        except NotConfigured as error:
            return Health.not_configured(error.settings)
        except CallError as error:
            return Health.down(str(error))
        health = Health.up(f"account {account}, region {region}")
        self._last_up = (time.monotonic(), health)
        return health

    def unconfigured(self) -> str | None:
        """``AWS_REGION`` when no region is set anywhere the clients would look without I/O (a profile may hold
        one: then the readiness check tells)."""
        clients = self.clients
        if clients.region or clients.profile or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_PROFILE"):
            return None
        return REGION_SETTING

    async def close(self) -> None:
        """Close the clients' connections."""
        self.clients.close()


def _operation(client: Any, service: str, operation: str) -> tuple[str, str]:
    """``(method name, API name)`` of ``operation`` given in either spelling."""
    import botocore  # pyright: ignore[reportMissingTypeStubs]

    mapping = cast("Mapping[str, str]", client.meta.method_to_api_mapping)
    if operation in mapping:
        return operation, mapping[operation]
    method: str = cast("Any", botocore).xform_name(operation)
    if method not in mapping:
        raise ValueError(f"AWS {service} has no operation {operation!r}")
    return method, operation


def _client_error(error: Any, service: str, action: str, where: str) -> CallError:
    """The kit's error for an error answer of AWS, by its code and HTTP status."""
    answer = cast("Mapping[str, Any]", error.response)
    details = cast("Mapping[str, Any]", answer.get("Error") or {})
    metadata = cast("Mapping[str, Any]", answer.get("ResponseMetadata") or {})
    code = str(details.get("Code") or "")
    status = metadata.get("HTTPStatusCode")
    status = status if isinstance(status, int) else None
    text = _clean(str(details.get("Message") or ""))
    said = f" ({code}{': ' + text if text else ''})" if code else (f" ({text})" if text else "")
    api = action.partition(":")[2]
    if code in THROTTLING_CODES:
        return RateLimited(
            f"AWS throttled {action} {where}{said}, after this server's own retries. Retry in about "
            f"{THROTTLE_RETRY_AFTER:.0f} s; nothing was changed by this call.",
            retry_after=THROTTLE_RETRY_AFTER,
        )
    if code in ACCESS_DENIED_CODES:
        return UpstreamError(
            f"AWS denied {action} {where}{said}. The IAM identity this server runs as needs the permission "
            f"{action} on the resource (an operator change); nothing was changed, and retrying will not help.",
            status=403,
        )
    if code in CREDENTIALS_REJECTED_CODES:
        return UpstreamError(
            f"AWS rejected the credentials for {action} {where}{said}. They may be wrong or expired: check "
            f"{CREDENTIAL_SETTINGS} (an operator setting).",
            status=status or 403,
        )
    if code in NOT_FOUND_CODES or code.endswith(("NotFound", "NotFoundException")) or code.startswith("NoSuch"):
        return NotFound(
            f"AWS found nothing for {action} {where}{said}. Check the names or ARNs, and that it lives {where}."
        )
    if code in CONFLICT_CODES or code.endswith(("AlreadyExists", "AlreadyExistsException")) or status == 409:
        return Conflict(f"AWS refused {action} {where}{said}: it conflicts with the current state.")
    if code in INVALID_CODES or code.startswith("InvalidParameter"):
        return InvalidRequest(f"AWS refused {action} {where}{said}: the request is invalid. Fix it.")
    if code in SERVER_CODES or (status is not None and status >= 500):
        return DependencyUnavailable(f"AWS failed to answer {action} {where}{said}. {_outcome(api)} Retry later.")
    return UpstreamError(f"AWS refused {action} {where}{said}.", status=status)


def _outcome(api: str) -> str:
    """What a failed operation may have changed."""
    if api.startswith(_READ_PREFIXES):
        return "Nothing was changed by this call."
    return "Its outcome is unknown: check whether it took effect before repeating it."


def _clean(text: str) -> str:
    """AWS text fit for a message: its first non-empty line, redacted, at most ``MAX_TEXT`` characters."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = redact_text(line[: MAX_TEXT * 8])  # redact before cutting: a cut secret may no longer be recognised
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1] + "…"


# -- completions --------------------------------------------------------------------------------------------------

_COMPLETIONS = 100


async def ecs_clusters(aws: AwsClients, prefix: str) -> list[str]:
    """Names of the account's ECS clusters starting with ``prefix`` (for completions: none when AWS cannot be
    asked, whatever the reason)."""
    try:
        answer = await aws.call("ecs", "ListClusters", maxResults=_COMPLETIONS)
    except CallError:
        return []
    arns = cast("list[object]", answer.get("clusterArns") or [])
    names = [str(arn).rsplit("/", 1)[-1] for arn in arns]
    return sorted(name for name in names if name.startswith(prefix))


async def ecs_services(aws: AwsClients, cluster: str | None, prefix: str) -> list[str]:
    """Names of ``cluster``'s ECS services starting with ``prefix`` (for completions, as :func:`ecs_clusters`)."""
    if not cluster:
        return []
    try:
        answer = await aws.call("ecs", "ListServices", cluster=cluster, maxResults=_COMPLETIONS)
    except CallError:
        return []
    arns = cast("list[object]", answer.get("serviceArns") or [])
    names = [str(arn).rsplit("/", 1)[-1] for arn in arns]
    return sorted(name for name in names if name.startswith(prefix))
