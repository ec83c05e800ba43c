"""Who is calling, and may they: the caller's identity policies, evaluated as IAM does for one action.

LocalStack's free edition does not enforce IAM, and Athena reads the catalog and the data with the
caller's credentials. So the emulator checks, as Athena would through Glue and S3, that the caller may
`athena:StartQueryExecution` on the workgroup and `glue:GetTable` on each table a query reads. The
evaluation is moto's IAM policy engine (`moto.iam.access_control.IAMPolicy`: Allow and Deny statements,
actions and ARN globs; an explicit Deny wins, and what no statement allows is denied). Resource
policies, permission boundaries, SCPs and session policies are not evaluated.

A caller the emulator cannot resolve to a role (the account's own long-term test credentials) is the
account root, which IAM allows everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Caller:
    """An assumed-role session: its ARN and the role's identity policy documents (JSON text)."""

    arn: str
    policies: tuple[str, ...]


def permitted(caller: Caller | None, action: str, resource: str) -> bool:
    if caller is None:
        return True
    return evaluate(caller.policies, action, resource)


def evaluate(policies: Sequence[str], action: str, resource: str) -> bool:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    allowed = False
    for document in policies:
        result = IAMPolicy(document).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed


def not_authorized(caller: Caller, action: str, resource: str) -> str:
    """IAM's wording of a refusal."""
    return (
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
