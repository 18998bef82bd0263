"""Secret preflight: whether the secrets a deployment needs exist, are not going away, and hold the keys it
reads, named key by key. Never a value.

Two ways in: explicit secrets of a kind (the AFU-9 structures ``github`` and ``database``, or ``custom`` keys),
and the references of an ECS task definition (containers' ``secrets``, log drivers' ``secretOptions``, private
registry credentials): a Secrets Manager ARN with an optional ``:json-key:version-stage:version-id`` suffix, or
an SSM parameter ARN or name.

How values are kept out of answers and logs:

- ``GetSecretValue`` is called only to learn a JSON secret's key names: :func:`_content_of` takes the value out
  of AWS's answer, parses it and returns names (and which of them are empty); nothing else ever holds it.
- SSM parameters are checked with ``DescribeParameters``, which returns no value.
- A task definition's environment values are looked at only to say whether one looks like a secret; the
  definition is reduced to names and references as soon as it is read.
- botocore logs whole request and response bodies at DEBUG (``botocore.parsers``, ``botocore.endpoint``);
  while this module reads a secret or a task definition, those loggers' records are dropped (a filter keyed
  by a context variable, which ``asyncio.to_thread`` carries into the worker thread that runs the call).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.aws import AwsClients, Located
from shared.errors import InvalidRequest, NotFound, UpstreamError
from shared.redaction import redact_text
from shared.timestamps import iso
from shared.untrusted import clean

__all__ = [
    "ALIASES",
    "REQUIRED_KEYS",
    "Reference",
    "SecretCheck",
    "SecretReference",
    "SecretSpec",
    "SecretsCheck",
    "TaskSecrets",
    "check_secrets",
    "check_task_definition",
    "parse_reference",
]

Kind = Literal["github", "database", "custom"]
Content = Literal["json_object", "json_other", "text", "binary"]

REQUIRED_KEYS: Mapping[str, tuple[str, ...]] = {
    "github": ("token", "webhook_secret"),
    "database": ("username", "password", "host", "port", "database"),
    "custom": (),
}
"""The AFU-9 secret structures: the keys a secret of each kind must hold."""

ALIASES: Mapping[tuple[str, str], tuple[str, ...]] = {("database", "database"): ("dbname",)}
"""(kind, key) -> other names accepted for that key: secrets that RDS manages or rotates call it ``dbname``."""

_MAX_KEYS_SHOWN = 50
_MAX_READS = 50  # distinct secrets and parameters one task definition check reads
_CONCURRENCY = 4  # AWS calls at once
_NAME = 255  # characters of a name shown
_ARN = re.compile(
    r"^arn:[a-z0-9-]{1,32}:(secretsmanager|ssm|iam):[a-z0-9-]{0,32}:[0-9]{0,12}:[A-Za-z0-9/_+=.@:-]{1,2048}$"
)
_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api_?key|access_?key|private_?key|credential|authorization)", re.IGNORECASE
)

KeyName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@/+=-]{1,255}$", description="A JSON key the secret must hold.")]


class SecretSpec(BaseModel):
    """A secret to check."""

    model_config = ConfigDict(extra="forbid")

    secret_id: str = Field(
        pattern=r"^[A-Za-z0-9/_+=.@:-]{1,2048}$",
        description="Secrets Manager secret name or ARN; an ARN's `:json-key::` suffix requires that key too.",
    )
    kind: Kind = Field(
        description="github: token, webhook_secret. database: username, password, host, port, database "
        "(dbname accepted for database). custom: only required_keys."
    )
    required_keys: list[KeyName] = Field(
        default_factory=list[str], max_length=50, description="Keys it must hold besides its kind's (custom: all)."
    )


# -- answers ---------------------------------------------------------------------------------------------------


class SecretCheck(BaseModel):
    secret: str = Field(description="The secret as given.")
    kind: Kind = Field(description="The structure it was checked against.")
    name: str | None = Field(description="Its name in Secrets Manager; none when it was not found.")
    exists: bool | None = Field(description="False: no such secret; none: it could not be checked (see problems).")
    scheduled_for_deletion: str | None = Field(
        description="ISO 8601 date Secrets Manager deletes it on; none: not scheduled."
    )
    content: Content | None = Field(
        description="json_object (keys listed), json_other, text or binary; none: the value was not read."
    )
    keys: list[str] = Field(description="Key names the JSON object holds, sorted (names only, never values).")
    required_keys: list[str] = Field(description="Keys it must hold.")
    missing_keys: list[str] = Field(description="Required keys it lacks.")
    empty_keys: list[str] = Field(description="Required keys it holds with an empty value (null or blank).")
    aliases: list[str] = Field(description="Required keys found under an accepted alias, as key=alias.")
    last_changed: str | None = Field(description="ISO 8601, when the secret last changed.")
    ok: bool = Field(description="It exists, is not scheduled for deletion and holds every required key.")


class SecretsCheck(Located):
    ok: bool = Field(description="Every secret is ok.")
    secrets: list[SecretCheck] = Field(description="One per secret asked for, in the order given.")
    problems: list[str] = Field(description="One sentence per problem, naming the secret and keys (never a value).")
    next: str = Field(description="What to do next.")


class SecretReference(BaseModel):
    container: str = Field(description="Container that reads it.")
    variable: str = Field(
        description="Environment variable it fills; log:NAME for a log driver option, "
        "repositoryCredentials for the registry login."
    )
    source: Literal["secretsmanager", "ssm", "unknown"] = Field(description="Where ECS fetches it from.")
    secret: str = Field(description="Secret ARN or SSM parameter name, without the JSON key suffix.")
    json_key: str | None = Field(description="JSON key ECS reads from the secret; none: the whole value.")
    version: str | None = Field(description="Version stage or id asked for; none: AWSCURRENT.")
    exists: bool | None = Field(description="False: not found; none: could not be checked (see problems).")
    key_present: bool | None = Field(description="The secret holds json_key; none: no key asked for, or not read.")
    scheduled_for_deletion: str | None = Field(description="ISO 8601 deletion date; none: not scheduled.")
    last_changed: str | None = Field(description="ISO 8601, when it last changed.")
    ok: bool = Field(description="ECS can fetch it as referenced.")


class TaskSecrets(Located):
    task_definition: str = Field(description="family:revision checked.")
    service: str | None = Field(description="cluster/service it runs in, when one was given.")
    execution_role: str | None = Field(
        description="executionRoleArn, the role ECS fetches secrets with (its permissions are not checked); "
        "none: not set."
    )
    references: list[SecretReference] = Field(description="Every secret the containers reference.")
    environment: list[str] = Field(description="Plain environment variables as container/NAME (never values).")
    ok: bool = Field(description="Every reference is ok and an execution role is set where needed.")
    problems: list[str] = Field(description="One sentence per problem, naming the secret and key (never a value).")
    warnings: list[str] = Field(description="What does not stop a start but should be fixed.")
    next: str = Field(description="What to do next.")


# -- references ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """Where ECS takes a value from: a Secrets Manager secret (a JSON key of it, a version) or an SSM parameter.
    ``alternatives`` are other names the same SSM ARN may mean (``parameter/x`` is ``x`` or ``/x``)."""

    source: Literal["secretsmanager", "ssm"]
    secret_id: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None
    region: str | None = None
    account: str | None = None
    alternatives: tuple[str, ...] = ()

    @property
    def version(self) -> str | None:
        return self.version_id or self.version_stage


def parse_reference(value_from: str) -> Reference | None:
    """``valueFrom`` as ECS reads it; None when it names neither a Secrets Manager secret nor an SSM parameter.

    ``arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key[:version-stage[:version-id]]]``;
    ``arn:aws:ssm:<region>:<account>:parameter/<name>``; anything else not an ARN is an SSM parameter name.
    """
    if not value_from.startswith("arn:"):
        return Reference("ssm", value_from) if value_from else None
    parts = value_from.split(":")
    if len(parts) < 6:
        return None
    service, region, account = parts[2], parts[3] or None, parts[4] or None
    if service == "secretsmanager" and len(parts) >= 7 and parts[5] == "secret" and parts[6]:
        json_key, stage, version_id = [*parts[7:10], "", "", ""][:3]
        return Reference(
            "secretsmanager",
            ":".join(parts[:7]),
            json_key=json_key or None,
            version_stage=stage or None,
            version_id=version_id or None,
            region=region,
            account=account,
        )
    if service == "ssm" and len(parts) == 6 and parts[5].startswith("parameter/") and len(parts[5]) > 10:
        rest = parts[5].removeprefix("parameter/")
        if "/" in rest:  # a path: its name starts with a slash
            return Reference("ssm", "/" + rest, region=region, account=account)
        return Reference("ssm", rest, region=region, account=account, alternatives=("/" + rest,))
    return None


# -- reading, names only ---------------------------------------------------------------------------------------


_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("afu9_deploy_reading_secrets", default=False)
_NOISY_LOGGERS = ("botocore.parsers", "botocore.endpoint")


class _WhileReadingSecrets(logging.Filter):
    """Drops botocore's records (whole request and response bodies at DEBUG) while a secret is being read."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _quiet.get()


_FILTER = _WhileReadingSecrets()


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """AWS calls made inside (and their worker threads, which copy the context) log no body."""
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


@dataclass
class _State:
    """What was learnt of one secret or parameter: metadata and key names, never a value."""

    exists: bool | None
    name: str | None = None
    deletion: str | None = None
    last_changed: str | None = None
    content: Content | None = None
    keys: frozenset[str] = frozenset()
    empty: frozenset[str] = frozenset()
    version_missing: bool = False
    error: str | None = None  # why it could not be read (AWS's refusal, another region)


def _content_of(answer: dict[str, Any]) -> tuple[Content, frozenset[str], frozenset[str]]:
    """What a ``GetSecretValue`` answer holds, as key names and the names of empty keys. The value is taken out
    of the answer here and dropped when this returns: it is never stored, shown or logged."""
    text = answer.pop("SecretString", None)
    answer.pop("SecretBinary", None)
    if not isinstance(text, str):
        return "binary", frozenset(), frozenset()
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return "text", frozenset(), frozenset()
    if not isinstance(parsed, dict):
        return "json_other", frozenset(), frozenset()
    pairs: dict[Any, Any] = parsed  # pyright: ignore[reportUnknownVariableType]
    keys = frozenset(str(key) for key in pairs)
    empty = frozenset(str(key) for key, value in pairs.items() if value is None or str(value).strip() == "")
    return "json_object", keys, empty


async def _read_secret(aws: AwsClients, reference: Reference) -> _State:
    """DescribeSecret for metadata, then GetSecretValue for its key names (unless it is being deleted)."""
    with _reading():
        try:
            described = await aws.call("secretsmanager", "DescribeSecret", SecretId=reference.secret_id)
        except NotFound:
            return _State(exists=False)
        except (UpstreamError, InvalidRequest) as error:
            return _State(exists=None, error=str(error))
        state = _State(
            exists=True,
            name=_shown(described.get("Name")),
            deletion=iso(described.get("DeletedDate")),
            last_changed=iso(described.get("LastChangedDate")),
        )
        if state.deletion:
            return state  # GetSecretValue is refused on a secret marked for deletion
        version: dict[str, str] = {}
        if reference.version_stage:
            version["VersionStage"] = reference.version_stage
        if reference.version_id:
            version["VersionId"] = reference.version_id
        try:
            state.content, state.keys, state.empty = _content_of(
                await aws.call("secretsmanager", "GetSecretValue", SecretId=reference.secret_id, **version)
            )
        except NotFound:
            state.version_missing = True
        except (UpstreamError, InvalidRequest) as error:
            state.error = str(error)
    return state


async def _read_parameter(aws: AwsClients, reference: Reference) -> _State:
    """DescribeParameters by name: whether the parameter exists (no value is returned)."""
    names = [reference.secret_id, *reference.alternatives]
    with _reading():
        try:
            answer = await aws.call(
                "ssm",
                "DescribeParameters",
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": names}],
            )
        except (UpstreamError, InvalidRequest) as error:
            return _State(exists=None, error=str(error))
    found = [dict(raw) for raw in answer.get("Parameters") or []]
    if not found:
        return _State(exists=False)
    return _State(exists=True, name=_shown(found[0].get("Name")), last_changed=iso(found[0].get("LastModifiedDate")))


async def _read(aws: AwsClients, reference: Reference, account: str, region: str) -> _State:
    if reference.region and reference.region != region:
        return _State(
            exists=None, error=f"it lives in region {reference.region}; this server reads {region}, so it was not read"
        )
    if reference.source == "ssm":
        if reference.account and reference.account != account:
            return _State(exists=None, error=f"it lives in account {reference.account}, which this server cannot list")
        return await _read_parameter(aws, reference)
    return await _read_secret(aws, reference)


async def _read_all(
    aws: AwsClients, references: Sequence[Reference], account: str, region: str
) -> dict[Reference, _State]:
    """Each distinct reference read once (its JSON key aside), a few at a time."""
    gate = asyncio.Semaphore(_CONCURRENCY)
    distinct = list(dict.fromkeys(_without_key(reference) for reference in references))

    async def one(reference: Reference) -> _State:
        async with gate:
            return await _read(aws, reference, account, region)

    states = await asyncio.gather(*(one(reference) for reference in distinct))
    return dict(zip(distinct, states, strict=True))


def _without_key(reference: Reference) -> Reference:
    return Reference(
        reference.source,
        reference.secret_id,
        version_stage=reference.version_stage,
        version_id=reference.version_id,
        region=reference.region,
        account=reference.account,
        alternatives=reference.alternatives,
    )


# -- explicit secrets --------------------------------------------------------------------------------------------


async def check_secrets(aws: AwsClients, specs: Sequence[SecretSpec], account: str, region: str) -> SecretsCheck:
    """Each secret of ``specs`` against its kind's keys and its own; every problem in a sentence."""
    references: list[Reference] = []
    for spec in specs:
        reference = parse_reference(spec.secret_id) if spec.secret_id.startswith("arn:") else None
        if spec.secret_id.startswith("arn:") and (reference is None or reference.source != "secretsmanager"):
            raise InvalidRequest(
                f"{spec.secret_id[:200]!r} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:"
                "<account>:secret:<name>): check_secrets reads Secrets Manager; check_task_secrets also checks "
                "the SSM parameters a task definition names."
            )
        references.append(reference or Reference("secretsmanager", spec.secret_id))
    states = await _read_all(aws, references, account, region)
    checks: list[SecretCheck] = []
    problems: list[str] = []
    for spec, reference in zip(specs, references, strict=True):
        check, found = _judge(spec, reference, states[_without_key(reference)], region)
        checks.append(check)
        problems += found
    ok = all(check.ok for check in checks)
    return SecretsCheck(
        account=account,
        region=region,
        ok=ok,
        secrets=checks,
        problems=problems,
        next=(
            "Every secret is in place: check_task_secrets on the service confirms what its task definition reads."
            if ok
            else "Fix each problem (create the secret, add the missing keys, restore a secret scheduled for "
            "deletion), then check again before deploying."
        ),
    )


def _judge(spec: SecretSpec, reference: Reference, state: _State, region: str) -> tuple[SecretCheck, list[str]]:
    who = f"Secret {spec.secret_id!r}"
    required = list(dict.fromkeys([*REQUIRED_KEYS[spec.kind], *spec.required_keys]))
    if reference.json_key and reference.json_key not in required:
        required.append(reference.json_key)
    missing: list[str] = []
    empty: list[str] = []
    aliases: list[str] = []
    problems: list[str] = []
    if state.exists is False:
        problems.append(
            f"{who} does not exist in Secrets Manager in {region}: create it"
            + (f" with the keys {', '.join(required)}" if required else "")
            + ", or fix the name."
        )
    elif state.error is not None:
        problems.append(f"{who} could not be checked: {state.error}")
    elif state.deletion:
        problems.append(
            f"{who} is scheduled for deletion on {state.deletion}: restore it (RestoreSecret) or point the "
            "deployment at another secret."
        )
    elif state.version_missing:
        problems.append(f"{who} has no version {reference.version or 'AWSCURRENT'}.")
    elif required and state.content != "json_object":
        missing = list(required)
        problems.append(
            f"{who} is not a JSON object ({_CONTENT[state.content or 'text']}): it must hold the keys "
            f"{', '.join(required)}."
        )
    elif state.content == "json_object":
        for key in required:
            present = key if key in state.keys else _alias(spec.kind, key, state.keys)
            if present is None:
                missing.append(key)
                continue
            if present != key:
                aliases.append(f"{key}={present}")
            if present in state.empty:
                empty.append(key)
        if missing:
            problems.append(f"{who} lacks the key{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")
        if empty:
            problems.append(f"{who} holds an empty value for {', '.join(empty)}.")
    check = SecretCheck(
        secret=spec.secret_id,
        kind=spec.kind,
        name=state.name,
        exists=state.exists,
        scheduled_for_deletion=state.deletion,
        content=state.content,
        keys=[_shown(key, 100) for key in sorted(state.keys)[:_MAX_KEYS_SHOWN]],
        required_keys=required,
        missing_keys=missing,
        empty_keys=empty,
        aliases=aliases,
        last_changed=state.last_changed,
        ok=not problems,
    )
    return check, problems


_CONTENT: Mapping[str, str] = {
    "json_other": "JSON, but not an object",
    "text": "plain text",
    "binary": "binary",
    "json_object": "a JSON object",
}


def _alias(kind: str, key: str, keys: frozenset[str]) -> str | None:
    return next((alias for alias in ALIASES.get((kind, key), ()) if alias in keys), None)


# -- task definitions ------------------------------------------------------------------------------------------


@dataclass
class _Needs:
    """What a task definition needs, reduced at once to names and references (no environment value)."""

    name: str
    execution_role: str | None
    uses: list[tuple[str, str, str]] = field(default_factory=list[tuple[str, str, str]])  # container, var, from
    environment: list[str] = field(default_factory=list[str])
    plain_secrets: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])  # container, variable


def _needs_of(definition: Mapping[str, Any]) -> _Needs:
    family, revision = definition.get("family"), definition.get("revision")
    name = f"{family}:{revision}" if family else str(definition.get("taskDefinitionArn") or "").rsplit("/", 1)[-1]
    needs = _Needs(name=_shown(name), execution_role=_identifier(str(definition.get("executionRoleArn") or "")) or None)
    for container in definition.get("containerDefinitions") or []:
        where = _shown(container.get("name"))
        for secret in container.get("secrets") or []:
            needs.uses.append((where, _shown(secret.get("name")), str(secret.get("valueFrom") or "")))
        for option in (container.get("logConfiguration") or {}).get("secretOptions") or []:
            needs.uses.append((where, f"log:{_shown(option.get('name'))}", str(option.get("valueFrom") or "")))
        credentials = (container.get("repositoryCredentials") or {}).get("credentialsParameter")
        if credentials:
            needs.uses.append((where, "repositoryCredentials", str(credentials)))
        for variable in container.get("environment") or []:
            variable_name = _shown(variable.get("name"))
            needs.environment.append(f"{where}/{variable_name}")
            value = str(variable.get("value") or "")
            if _SECRET_NAME.search(variable_name) or (value and redact_text(value) != value):
                needs.plain_secrets.append((where, variable_name))
    return needs


async def check_task_definition(
    aws: AwsClients, task_definition: str, account: str, region: str, service: str | None = None
) -> TaskSecrets:
    """The secrets ``task_definition`` references, each checked as ECS will fetch it."""
    with _reading():
        answer = await aws.call("ecs", "DescribeTaskDefinition", taskDefinition=task_definition)
        needs = _needs_of(answer.pop("taskDefinition", None) or {})
        del answer
    parsed = [(container, variable, source, parse_reference(source)) for container, variable, source in needs.uses]
    known = [reference for *_, reference in parsed if reference is not None]
    problems: list[str] = []
    if len({_without_key(reference) for reference in known}) > _MAX_READS:
        raise InvalidRequest(
            f"Task definition {needs.name} references more than {_MAX_READS} distinct secrets; check them in "
            "parts with check_secrets."
        )
    states = await _read_all(aws, known, account, region)
    references: list[SecretReference] = []
    for container, variable, source, reference in parsed:
        if reference is None:
            problems.append(
                f"{container}/{variable}: {_identifier(source)!r} is neither a Secrets Manager secret ARN nor an "
                "SSM parameter ARN or name, so ECS cannot fetch it."
            )
            references.append(_unknown(container, variable, source))
            continue
        item, found = _judge_reference(container, variable, reference, states[_without_key(reference)], region)
        references.append(item)
        problems += found
    if needs.uses and not needs.execution_role:
        problems.append(
            f"Task definition {needs.name} references secrets but has no execution role (executionRoleArn): ECS "
            "cannot fetch them and its tasks will not start."
        )
    warnings = [
        f"{container} sets {variable} as a plain environment value that looks like a secret (by its name or "
        "value): move it to the task definition's secrets."
        for container, variable in needs.plain_secrets
    ]
    if needs.execution_role and needs.uses:
        warnings.append(
            f"Not checked: whether the execution role {needs.execution_role.rsplit('/', 1)[-1]} may read these "
            "(secretsmanager:GetSecretValue, ssm:GetParameters, kms:Decrypt for customer keys)."
        )
    ok = not problems
    return TaskSecrets(
        account=account,
        region=region,
        task_definition=needs.name,
        service=service,
        execution_role=needs.execution_role,
        references=references,
        environment=needs.environment,
        ok=ok,
        problems=problems,
        warnings=warnings,
        next=(
            "Its secrets are in place: check_secrets checks each secret's full AFU-9 structure."
            if ok
            else "Fix each problem (create the secret or parameter, add the key, restore a deleted secret, set the "
            "execution role), then check again before deploying."
        ),
    )


def _unknown(container: str, variable: str, source: str) -> SecretReference:
    return SecretReference(
        container=container,
        variable=variable,
        source="unknown",
        secret=_identifier(source),
        json_key=None,
        version=None,
        exists=None,
        key_present=None,
        scheduled_for_deletion=None,
        last_changed=None,
        ok=False,
    )


def _judge_reference(
    container: str, variable: str, reference: Reference, state: _State, region: str
) -> tuple[SecretReference, list[str]]:
    kind = "SSM parameter" if reference.source == "ssm" else "Secret"
    who = f"{container}/{variable}: {kind} {_identifier(reference.secret_id)!r}"
    problems: list[str] = []
    key_present: bool | None = None
    if state.exists is False:
        service = "SSM Parameter Store" if reference.source == "ssm" else "Secrets Manager"
        problems.append(f"{who} does not exist in {service} in {region}.")
    elif state.error is not None:
        problems.append(f"{who} could not be checked: {state.error}")
    elif state.deletion:
        problems.append(
            f"{who} is scheduled for deletion on {state.deletion}: restore it (RestoreSecret) or reference another."
        )
    elif state.version_missing:
        problems.append(f"{who} has no version {reference.version or 'AWSCURRENT'}.")
    elif reference.json_key is not None:
        key_present = state.content == "json_object" and reference.json_key in state.keys
        if state.content != "json_object":
            problems.append(
                f"{who} is not a JSON object ({_CONTENT[state.content or 'text']}), so ECS cannot read its key "
                f"{_shown(reference.json_key, 100)}."
            )
        elif not key_present:
            problems.append(f"{who} lacks the key {_shown(reference.json_key, 100)}.")
        elif reference.json_key in state.empty:
            problems.append(f"{who} holds an empty value for {_shown(reference.json_key, 100)}.")
    item = SecretReference(
        container=container,
        variable=variable,
        source=reference.source,
        secret=_identifier(reference.secret_id),
        json_key=_shown(reference.json_key, 100) if reference.json_key else None,
        version=_shown(reference.version, 100) if reference.version else None,
        exists=state.exists,
        key_present=key_present,
        scheduled_for_deletion=state.deletion,
        last_changed=state.last_changed,
        ok=not problems,
    )
    return item, problems


# -- helpers ---------------------------------------------------------------------------------------------------


def _shown(value: object, limit: int = _NAME) -> str:
    """A name from AWS fit for an answer: invisible characters removed, secret-looking text redacted, cut."""
    cleaned = redact_text(clean(str(value or ""))[0] or "")
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def _identifier(value: str, limit: int = 300) -> str:
    """A secret's ARN or a parameter's name fit for an answer: an ARN parsed by :func:`parse_reference` is an
    identifier (redaction would take ``secretsmanager:...`` for a key and value); anything else is redacted."""
    if _ARN.match(value):
        return value if len(value) <= limit else value[:limit] + "…"
    return _shown(value, limit)
