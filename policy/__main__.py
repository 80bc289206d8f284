"""The laravel-stack guardrails policy pack: `pulumi preview|up --policy-pack policy`."""

from guardrails import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="laravel-stack-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
