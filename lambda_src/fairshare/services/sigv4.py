"""Verifying a SigV4 signature with botocore's own signer, as AWS verifies the requests it receives.

The platform recomputes the signature over the request as it arrived (method, path, query, the headers
the client signed, the body) with the secret it holds for the access key id, and compares. Replay is
bounded as AWS bounds it: a signature is good for 15 minutes either side of its X-Amz-Date, and the one
call that changes state (StartQueryExecution) is idempotent on its ClientRequestToken.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fairshare.services.athena_protocol import AthenaApiError

MAX_SKEW_S = 15 * 60  # AWS's bound on a signature's age (and on a clock ahead of ours)
ALGORITHM = "AWS4-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(slots=True, frozen=True)
class SignedRequest:
    """A request as the receiving side sees it; `paths` are the paths the client may have signed
    (behind API Gateway: the stage path, a custom domain's path...), tried in order."""

    method: str
    paths: Sequence[str]
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, Sequence[str]]  # lower-case names
    body: bytes


@dataclass(slots=True, frozen=True)
class Authorization:
    access_key_id: str
    day: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date


def unrecognized(message: str = "The security token included in the request is invalid.") -> AthenaApiError:
    return AthenaApiError("UnrecognizedClientException", message, status=403)


def bad_signature(message: str) -> AthenaApiError:
    return AthenaApiError("InvalidSignatureException", message, status=403)


def read_authorization(request: SignedRequest) -> Authorization:
    """The Authorization header's parts; a request without one (or another scheme) is refused."""
    values = request.headers.get("authorization") or ()
    if not values:
        raise unrecognized("Missing Authentication Token: sign the request with SigV4")
    match = _AUTHORIZATION.match(values[0].strip())
    if match is None or len(values) != 1:
        raise bad_signature(
            f"Authorization header must be {ALGORITHM} Credential=..., SignedHeaders=..., Signature=..."
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise bad_signature("Credential must be <access key id>/<date>/<region>/<service>/aws4_request")
    signed = tuple(match["signed"].split(";"))
    if "host" not in signed or list(signed) != sorted(signed):
        raise bad_signature("SignedHeaders must be sorted and include host")
    timestamp = (request.headers.get("x-amz-date") or [""])[0].strip()
    if "x-amz-date" not in signed or not timestamp:
        raise bad_signature("the request must carry a signed X-Amz-Date header")
    return Authorization(
        access_key_id=parts[0],
        day=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=signed,
        signature=match["signature"],
        timestamp=timestamp,
    )


def verify(
    request: SignedRequest, auth: Authorization, secret: str, *, region: str, service: str, now: float
) -> None:
    """Raise InvalidSignatureException unless `secret` signed this request, in scope and in time."""
    if auth.service != service or auth.region != region:
        raise bad_signature(
            f"Credential should be scoped to {region}/{service}, not {auth.region}/{auth.service}"
        )
    try:
        signed_at = datetime.strptime(auth.timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise bad_signature("X-Amz-Date must look like 20260101T000000Z") from None
    if auth.day != auth.timestamp[:8]:
        raise bad_signature("Credential date does not match X-Amz-Date")
    skew = now - signed_at.timestamp()
    if abs(skew) > MAX_SKEW_S:
        current = datetime.fromtimestamp(now, tz=UTC).strftime(SIGV4_TIMESTAMP)
        raise bad_signature(
            f"Signature expired: {auth.timestamp} is {'earlier' if skew > 0 else 'later'} than "
            f"{current} by more than {MAX_SKEW_S // 60} min."
        )
    missing = [name for name in auth.signed_headers if name not in request.headers]
    if missing:
        raise bad_signature(f"signed headers missing from the request: {', '.join(missing)}")
    signer = SigV4Auth(Credentials(auth.access_key_id, secret), service, region)
    for path in request.paths:
        if hmac.compare_digest(_signature(signer, request, auth, path), auth.signature):
            return
    raise bad_signature(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    )


def _signature(signer: SigV4Auth, request: SignedRequest, auth: Authorization, path: str) -> str:
    host = request.headers["host"][0]
    query = [(name, value) for name, values in request.query.items() for value in values]
    aws_request = AWSRequest(
        method=request.method, url=f"https://{host}{path}", data=request.body, params=query
    )
    for name in auth.signed_headers:
        for value in request.headers[name]:
            aws_request.headers.add_header(name, value)
    aws_request.context["timestamp"] = auth.timestamp
    canonical = signer.canonical_request(aws_request)
    return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))
