"""cdk-nag (AwsSolutions) as a synth-time validation plugin, and how Keel acknowledges a finding.

cdk-nag 3 runs as a CDK policy-validation plugin: an unacknowledged finding fails `app.synth()`
(`ValidationFailed`) and is listed in `validation-report.json` (`REPORT_FILE`) in the output
directory; a clean synth writes that file too, with no findings. Acknowledgements are
construct metadata; with `write_suppressions_to_cloud_formation` they are also copied into each
resource's template Metadata (`cdk_nag.rules_to_suppress`), so the audit trail ships with the
template and the infra tests can check it. The plugin writes that Metadata itself: a template
without it was synthesized without the checks.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

REPORT_FILE = "validation-report.json"  # written by CDK's Validations into the outdir


def add_checks(app: App) -> None:
    """The one place the plugin is attached: `infra.application.build` and the nag canary test."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope` and below.

    The reason must say why this finding is acceptable here, not restate the rule.
    """
    if not finding.startswith("AwsSolutions-") or len(reason) < 40:
        raise ValueError(f"acknowledge {finding!r}: name the finding and give a specific reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
