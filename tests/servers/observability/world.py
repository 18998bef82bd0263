"""The observability server's stand-in outside world: moto's AWS on loopback (one ``ThreadedMotoServer`` per test
process, each test's resources under their own names), for the suite-wide contract and fuzz tests and the
observability tests.

:func:`seed` creates, under a name, what the tools read: an ECS cluster and service behind an ALB target group,
a task definition logging with awslogs, a log group with lines (one with a secret), metrics of the service, and
alarms (one in ALARM). What moto does not model (rollout states, target health reason codes, Insights
results, alarm history) the tests stub with botocore's ``Stubber`` on the same clients.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from servers.observability.deps import ObservabilityDeps
from servers.observability.settings import ObservabilitySettings
from shared.db import Database
from tests.moto_aws import REGION, boto, clients, moto_url

__all__ = ["REGION", "World", "clients", "deps", "moto_url", "pinned_arguments", "seed", "settings_overrides"]

SECRET_LINE = "connecting with password=hunter2-very-secret and AKIAIOSFODNN7EXAMPLE"

_lock = threading.RLock()
_seeded: World | None = None


@dataclass(frozen=True)
class World:
    """What :func:`seed` created."""

    cluster: str
    service: str
    log_group: str
    stream: str
    task: str
    container: str
    target_group_arn: str
    load_balancer_arn: str
    alarm_firing: str
    alarm_ok: str


def seed(name: str = "afu9") -> World:
    """An ECS service behind an ALB, its logs, metrics and alarms, under ``name`` (idempotent per name)."""
    ecs, elb, ec2, logs, cloudwatch = (boto(s) for s in ("ecs", "elbv2", "ec2", "logs", "cloudwatch"))
    cluster, service, container = f"{name}-cluster", f"{name}-api", "app"
    log_group = f"/ecs/{name}"
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    balancer = elb.create_load_balancer(Name=f"{name}-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    group = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
    group_arn = group["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
    )
    ecs.create_cluster(clusterName=cluster)
    definition = ecs.register_task_definition(
        family=f"{name}-api",
        containerDefinitions=[
            {
                "name": container,
                "image": "public.ecr.aws/afu9/api:1",
                "memory": 512,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": log_group, "awslogs-region": REGION, "awslogs-stream-prefix": "api"},
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=definition,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": group_arn, "containerName": container, "containerPort": 8080}],
    )
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
    document = {"instanceId": instance["InstanceId"]}
    import json

    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps(document))
    task = ecs.run_task(cluster=cluster, taskDefinition=definition, count=1)["tasks"][0]["taskArn"]
    task_id = task.rsplit("/", 1)[-1]
    stream = f"api/{container}/{task_id}"
    logs.create_log_group(logGroupName=log_group)
    logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
    now = int(time.time() * 1000)
    lines = ["starting", "GET /health 200", "ERROR payment failed: upstream 502", SECRET_LINE, "GET /cart 200"]
    logs.put_log_events(
        logGroupName=log_group,
        logStreamName=stream,
        logEvents=[{"timestamp": now - 60_000 + n * 1000, "message": text} for n, text in enumerate(lines)],
    )
    moment = datetime.now(UTC) - timedelta(minutes=5)
    dimensions = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]
    cloudwatch.put_metric_data(
        Namespace="AWS/ECS",
        MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": dimensions, "Timestamp": moment, "Value": value}
            for value in (20.0, 40.0)
        ],
    )
    firing, calm = f"{name}-api-5xx", f"{name}-api-cpu"
    for alarm in (firing, calm):
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            MetricName="CPUUtilization",
            Namespace="AWS/ECS",
            Dimensions=dimensions,
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=80,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName=firing, StateValue="ALARM", StateReason="Threshold crossed: 5xx above 5")
    cloudwatch.set_alarm_state(AlarmName=calm, StateValue="OK", StateReason="Threshold not crossed")
    return World(
        cluster=cluster,
        service=service,
        log_group=log_group,
        stream=stream,
        task=task_id,
        container=container,
        target_group_arn=group_arn,
        load_balancer_arn=balancer,
        alarm_firing=firing,
        alarm_ok=calm,
    )


def seeded() -> World:
    """The world of the suite-wide tests (seeded once per process)."""
    global _seeded
    with _lock:
        if _seeded is None:
            _seeded = seed("suite")
        return _seeded


def settings_overrides() -> dict[str, Any]:
    world = seeded()
    return {"services": [f"{world.cluster}/{world.service}"], "db_instances": ["suite-db"]}


def deps(settings: ObservabilitySettings) -> ObservabilityDeps:
    """The observability server's dependencies on the moto server."""
    return ObservabilityDeps(database=Database(settings.sqlalchemy_url()), aws=clients(), settings=settings)


def pinned_arguments() -> dict[str, list[Any]]:
    """Values that exist in the suite's world, which the fuzz test mostly passes for these arguments."""
    world = seeded()
    return {
        "cluster": [world.cluster],
        "service": [world.service],
        "log_group": [world.log_group],
        "log_groups": [[world.log_group]],
        "task": [world.task],
        "container": [world.container],
        "alarm_name": [world.alarm_firing, world.alarm_ok],
        "namespace": ["AWS/ECS"],
        "metric": ["CPUUtilization"],
    }
