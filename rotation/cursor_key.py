"""Rotates the cursor-signing key: Secrets Manager's four steps for a secret nothing else holds.

Secrets Manager starts a rotation by giving a new version id (ClientRequestToken) the staging label
AWSPENDING, then invokes this function once per step. createSecret stores a new random key under
that version; setSecret and testSecret have no other service to update or log in to (the key only
signs the app's own cursors), so testSecret checks the stored key's shape; finishSecret moves
AWSCURRENT to the new version, and Secrets Manager moves AWSPREVIOUS to the one it replaced, which
the app still accepts (app/store/cursor.py). Each step may run again: every one is idempotent.
Runs on the Lambda runtime's boto3 alone; its role may read and stage this one secret and nothing
else (template.yaml, CursorKeyRotationRole).
"""

import secrets
import string
from typing import Any

KEY_ALPHABET = string.ascii_letters + string.digits  # as the template's GenerateSecretString
KEY_LENGTH = 64


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def is_key(value: str) -> bool:
    return len(value) == KEY_LENGTH and all(character in KEY_ALPHABET for character in value)


def handler(event: dict[str, Any], _context: object) -> None:
    import boto3  # the runtime's; imported here so that tests pass their own client to rotate()

    rotate(boto3.client("secretsmanager"), event["SecretId"], event["ClientRequestToken"], event["Step"])


def rotate(client: Any, secret_id: str, token: str, step: str) -> None:
    steps = {"createSecret": _create, "setSecret": _set, "testSecret": _test, "finishSecret": _finish}
    if step not in steps:
        raise ValueError(f"unknown rotation step {step!r}")
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"rotation is not enabled for {secret_id}")
    stages = metadata.get("VersionIdsToStages", {}).get(token)
    if stages is not None and "AWSCURRENT" in stages:
        return  # this rotation already finished
    if stages is not None and "AWSPENDING" not in stages:
        raise ValueError(f"version {token} of {secret_id} is not pending rotation")
    steps[step](client, secret_id, token)


def _create(client: Any, secret_id: str, token: str) -> None:
    client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")  # the secret is readable
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    except client.exceptions.ResourceNotFoundException:
        client.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, SecretString=new_key(), VersionStages=["AWSPENDING"]
        )


def _set(client: Any, secret_id: str, token: str) -> None:
    """Nothing outside the secret holds the key."""


def _test(client: Any, secret_id: str, token: str) -> None:
    pending = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    if not is_key(pending.get("SecretString", "")):
        raise ValueError(f"the pending version {token} of {secret_id} is not a signing key")


def _finish(client: Any, secret_id: str, token: str) -> None:
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    current = next((version for version, labels in stages.items() if "AWSCURRENT" in labels), None)
    if current == token:
        return
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
