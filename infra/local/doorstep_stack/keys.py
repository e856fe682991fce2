"""The stack's secrets: the JWT signing key and JWKS (created and rotated) and the cursor key."""

from __future__ import annotations

import base64
import json
import secrets
import string
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .config import Names, StackError, error_code


def describe_secret(sm: Any, secret_id: str) -> dict[str, Any] | None:
    try:
        return sm.describe_secret(SecretId=secret_id)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def write_secret(sm: Any, secret_id: str, value: dict[str, Any], description: str) -> None:
    """Create the secret, or add a new current version if it already exists."""
    body = json.dumps(value)
    meta = describe_secret(sm, secret_id)
    if meta is None:
        if secret_id.startswith("arn:"):
            raise StackError(f"secret {secret_id} does not exist and cannot be created from an ARN")
        sm.create_secret(Name=secret_id, Description=description, SecretString=body)
        return
    if meta.get("DeletedDate"):
        sm.restore_secret(SecretId=secret_id)  # scheduled for deletion: bring it back first
    sm.put_secret_value(SecretId=secret_id, SecretString=body)


def secret_json(sm: Any, secret_id: str) -> dict[str, Any] | None:
    try:
        value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
            return None
        raise
    except (KeyError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_jwt_key_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """(signing-key secret, JWKS secret) for one fresh RSA-2048 key."""
    kid = f"local-{secrets.token_hex(6)}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": b64url_uint(numbers.n),
        "e": b64url_uint(numbers.e),
    }
    return {"kid": kid, "private_key_pem": pem}, {"keys": [jwk]}


def ensure_jwt_secrets(sm: Any, names: Names) -> str:
    signing = secret_json(sm, names.jwt_signing_key)
    jwks = secret_json(sm, names.jwt_public_keys)
    if signing and jwks:
        kids = {k.get("kid") for k in jwks.get("keys", []) if isinstance(k, dict)}
        if signing.get("kid") in kids and signing.get("private_key_pem"):
            return "exist"
    # One side missing or the pair does not match: replace both so they agree.
    signing_value, jwks_value = new_jwt_key_pair()
    write_secret(sm, names.jwt_signing_key, signing_value, "Local JWT signing key {kid, private_key_pem}")
    write_secret(sm, names.jwt_public_keys, jwks_value, "Local JWKS for verifying JWTs")
    return "created"


def public_jwk(private_key_pem: str, kid: str) -> dict[str, Any]:
    """The public JWK of a PEM private key."""
    key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
    numbers = key.public_key().public_numbers()  # type: ignore[union-attr]
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}


def rotate_jwt_keys(sm: Any, names: Names) -> tuple[str, str | None]:
    """New signing key; the JWKS becomes {new, previous} public keys. Returns (new kid, previous kid).

    The JWKS is written first so that verifiers that reload it trust the new key before
    any token is signed with it; tokens of the previous key keep verifying until they
    expire, and its public key leaves the JWKS at the next rotation.
    """
    current = secret_json(sm, names.jwt_signing_key)
    signing_value, jwks_value = new_jwt_key_pair()
    previous_kid = None
    if current and current.get("kid") and current.get("private_key_pem"):
        previous_kid = current["kid"]
        jwks_value["keys"].append(public_jwk(current["private_key_pem"], previous_kid))
    write_secret(sm, names.jwt_public_keys, jwks_value, "Local JWKS for verifying JWTs")
    write_secret(sm, names.jwt_signing_key, signing_value, "Local JWT signing key {kid, private_key_pem}")
    return signing_value["kid"], previous_kid


def ensure_cursor_secret(sm: Any, secret_id: str) -> str:
    if describe_secret(sm, secret_id) is not None and secret_json(sm, secret_id) is not None:
        return "exists"
    alphabet = string.ascii_letters + string.digits
    hmac_key = "".join(secrets.choice(alphabet) for _ in range(64))
    write_secret(sm, secret_id, {"hmac_key": hmac_key}, "Local HMAC key for pagination cursors")
    return "created"


def ensure_plain_secret(sm: Any, secret_id: str, value: str, description: str) -> str:
    """A secret holding a plain string (a partner's key), filled with `value` if empty."""
    if describe_secret(sm, secret_id) is not None:
        try:
            if sm.get_secret_value(SecretId=secret_id).get("SecretString"):
                return "exists"
        except ClientError:
            pass
        sm.put_secret_value(SecretId=secret_id, SecretString=value)
        return "updated"
    sm.create_secret(Name=secret_id, Description=description, SecretString=value)
    return "created"
