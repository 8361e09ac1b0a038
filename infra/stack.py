"""One Keel environment: the capability constructs composed from the wiring, plus its outputs."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from infra.channel_secrets import ChannelSecrets
from infra.compute import Compute
from infra.config import EnvConfig
from infra.ingress import Ingress
from infra.naming import construct_id
from infra.observability import Observability
from infra.operator import Operator
from infra.queues import Queues
from infra.storage import Storage
from infra.workflows import Workflows
from shared import stack_outputs as outputs
from shared.channels.registry import CHANNELS
from shared.names import notification_queue
from shared.wiring import DELIVERY_ADDRESSES_ENV, WIRING, Wiring, check_wiring


class KeelStack(Stack):
    def __init__(self, scope: Construct, config: EnvConfig, wiring: Wiring = WIRING) -> None:
        super().__init__(
            scope,
            config.stack_name,
            env=Environment(account=config.account, region=config.region),
            termination_protection=config.termination_protection,
            description=f"Keel ({config.name}): multi-channel commerce system of record",
        )
        self.config = config
        problems = check_wiring(wiring, CHANNELS)
        if problems:  # a hand-edited or stale wiring: refuse to build half a channel
            raise ValueError("the wiring misses parts of the registry:\n" + "\n".join(problems))
        Tags.of(self).add("project", "keel")
        Tags.of(self).add("keel:env", config.name)

        self.storage = Storage(self, "Storage", wiring=wiring, config=config)
        self.queues = Queues(self, "Queues", wiring=wiring, config=config)
        self.secrets = ChannelSecrets(self, "Secrets", wiring=wiring, config=config)
        self.compute = Compute(
            self,
            "Functions",
            wiring=wiring,
            config=config,
            storage=self.storage,
            queues=self.queues,
            secrets=self.secrets,
        )
        self.workflows = Workflows(
            self,
            "Workflows",
            wiring=wiring,
            config=config,
            functions=self.compute.functions,
        )
        self.ingress = Ingress(
            self,
            "Ingress",
            wiring=wiring,
            config=config,
            functions={name: d.function for name, d in self.compute.functions.items()},
        )
        self._delivery_addresses(wiring)
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            queues=self.queues,
            functions=self.compute.functions,
            api=self.ingress.api,
            state_machines=self.workflows.state_machines,
        )
        self.operator = Operator(
            self,
            "Operator",
            config=config,
            tables=self.storage.tables,
            queues=self.queues,
            secrets=self.secrets,
            functions=self.compute.functions,
            state_machines=self.workflows.state_machines,
        )
        self._outputs(wiring)

    def _delivery_addresses(self, wiring: Wiring) -> None:
        """Where each channel's deliveries must arrive (its webhook URL, or its notification
        queue's ARN), told to the functions that check subscriptions: known only now that the
        API and the queues exist."""
        addresses: dict[str, str] = {}
        for channel in CHANNELS:
            if channel.queue_receiver is not None:
                queue = self.queues.pairs[notification_queue(channel.name)].queue
                addresses[channel.name] = queue.queue_arn
            elif channel.receiver is not None:
                addresses[channel.name] = self.ingress.url_for(f"/webhooks/{channel.name}")
        for spec in wiring.functions:
            if spec.knows_delivery_addresses:
                self.compute.functions[spec.name].function.add_environment(
                    DELIVERY_ADDRESSES_ENV, json.dumps(addresses, sort_keys=True)
                )

    def _outputs(self, wiring: Wiring) -> None:
        """What an operator needs after a deploy: URLs to register, secrets to fill, queues to
        redrive, buckets."""
        for route, function_name in self.ingress.routes:
            # The channels (carriers) a route's function verifies signatures for are the
            # secrets it reads.
            spec = wiring.function(function_name)
            for carrier in spec.carriers if "{carrier}" in route.path else ():
                CfnOutput(
                    self,
                    f"CarrierWebhookUrl{construct_id(carrier)}",
                    value=self.ingress.url_for(route.path.replace("{carrier}", carrier)),
                    description=f"{route.method} URL to register as the {carrier} webhook",
                )
            for channel in spec.secrets:
                path = route.path.replace("{channel}", channel)
                CfnOutput(
                    self,
                    f"WebhookUrl{construct_id(channel)}",
                    value=self.ingress.url_for(path),
                    description=f"{route.method} URL to register as the {channel} webhook",
                )
        for name, secret_name in self.secrets.names.items():
            CfnOutput(
                self,
                f"Secret{construct_id(name)}",
                value=secret_name,
                description=f"Secrets Manager secret to fill with the {name} credentials",
            )
        # Each work queue's ARN next to its DLQ's: a redrive names both (docs/deploy.md), since
        # messages a function sends to a DLQ itself carry no DeadLetterQueueSourceArn.
        for name, pair in self.queues.pairs.items():
            CfnOutput(
                self,
                f"Queue{construct_id(name)}Arn",
                value=pair.queue.queue_arn,
                description=f"{name}: the --destination-arn when redriving {name}-dlq",
            )
            CfnOutput(
                self,
                f"Dlq{construct_id(name)}DlqArn",
                value=pair.dlq.queue_arn,
                description=f"{name}-dlq: redrive with aws sqs start-message-move-task "
                f"--source-arn <this> --destination-arn <Queue{construct_id(name)}Arn>",
            )
        for function_name, failures in self.queues.stream_failures.items():
            CfnOutput(
                self,
                f"Dlq{construct_id(function_name)}StreamFailuresArn",
                value=failures.queue_arn,
                description=f"{function_name}'s stream on-failure queue: pointers to failed "
                "stream batches, nothing to redrive (docs/deploy.md)",
            )
        for schedule, dlq in self.queues.schedule_dlqs.items():
            CfnOutput(
                self,
                f"ScheduleDlq{construct_id(schedule)}Arn",
                value=dlq.queue_arn,
                description=f"Schedule {schedule}'s DLQ: runs Scheduler could not deliver; "
                "nothing to redrive, the next run repeats the work (docs/deploy.md)",
            )
        for name, bucket in self.storage.buckets.items():
            CfnOutput(
                self,
                f"Bucket{construct_id(name)}Name",
                value=bucket.bucket_name,
                description=f"S3 bucket {name}: objects that messages and held deliveries refer to",
            )
        CfnOutput(self, "AlarmTopicArn", value=self.observability.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.observability.dashboard.dashboard_name)
        self._operator_outputs(wiring)

    def _operator_outputs(self, wiring: Wiring) -> None:
        """What `keel --env <env>` resolves every command through (shared/stack_outputs.py:
        the same keys the local stack writes), named from the wiring."""
        values: dict[str, str] = {
            outputs.REGION: self.region,
            outputs.API_URL: self.ingress.api.url,
            outputs.ALARM_PREFIX: f"{self.config.resource_prefix}-",
        }
        for name, table in self.storage.tables.items():
            values[outputs.table_key(name)] = table.table_name
        for name, pair in self.queues.pairs.items():
            values[outputs.queue_url_key(name)] = pair.queue.queue_url
            values[outputs.dlq_url_key(name)] = pair.dlq.queue_url
        for function_name, failures in self.queues.stream_failures.items():
            values[outputs.stream_failures_url_key(function_name)] = failures.queue_url
        for name, machine in self.workflows.state_machines.items():
            values[outputs.state_machine_key(name)] = machine.state_machine_arn
        for name, deployed in self.compute.functions.items():
            values[outputs.function_key(name)] = deployed.function.function_name
        for channel, names in self.secrets.account_names.items():
            values[outputs.account_secrets_key(channel)] = json.dumps(names)
        for key, value in values.items():
            CfnOutput(self, key, value=value, description="read by `keel --env` (stack_outputs)")
