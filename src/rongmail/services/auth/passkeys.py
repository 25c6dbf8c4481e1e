"""WebAuthn passkeys (W3C Web Authentication Level 2) with py ``webauthn`` (duo-labs).

* Registration (§7.1): options with a fresh 32-byte challenge, ``residentKey: preferred`` (a
  discoverable credential lets the user sign in without typing a name), user verification
  required (fingerprint / face / PIN: the passkey is then a full second factor), the account's
  existing credentials excluded. The response is verified for challenge, origin, RP id,
  user presence and verification; attestation is ``none`` (we trust the user's choice of
  authenticator, not its vendor).
* Authentication (§7.2): a challenge with the account's credentials allowed (or none, for a
  discoverable credential); the assertion is verified against the stored COSE key, the RP id
  and origins, with user verification required. The signature counter must increase when the
  authenticator keeps one (§6.1.1: a lower value suggests a cloned authenticator); counters
  that stay 0 (synced passkeys) are accepted.

Challenges are single use and kept server-side by the caller for :data:`CHALLENGE_TTL`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rongmail.errors import AuthError, ValidationError

CHALLENGE_TTL = 300.0


@dataclass(frozen=True, slots=True)
class Challenge:
    value: bytes
    account_id: int | None
    created: float

    def fresh(self) -> bool:
        return time.monotonic() - self.created < CHALLENGE_TTL


@dataclass(frozen=True, slots=True)
class NewPasskey:
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: tuple[str, ...]


class PasskeyService:
    def __init__(self, rp_id: str, rp_name: str, origins: tuple[str, ...]) -> None:
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = list(origins) or [f"https://{rp_id}"]

    def registration_options(self, account_id: int, address: str, display_name: str,
                             existing: list[str]) -> tuple[dict[str, Any], Challenge]:
        import webauthn
        from webauthn.helpers import base64url_to_bytes
        from webauthn.helpers.structs import (
            AuthenticatorSelectionCriteria,
            PublicKeyCredentialDescriptor,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        opts = webauthn.generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_name=address,
            user_id=f"rongmail:{account_id}".encode(), user_display_name=display_name or address,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c))
                                 for c in existing])
        return (json.loads(webauthn.options_to_json(opts)),
                Challenge(opts.challenge, account_id, time.monotonic()))

    def verify_registration(self, credential: dict[str, Any], challenge: Challenge
                            ) -> NewPasskey:
        import webauthn
        from webauthn.helpers import bytes_to_base64url
        from webauthn.helpers.exceptions import InvalidRegistrationResponse

        if not challenge.fresh():
            raise ValidationError("security.passkey.expired")
        try:
            v = webauthn.verify_registration_response(
                credential=credential, expected_challenge=challenge.value,
                expected_rp_id=self.rp_id, expected_origin=self.origins,
                require_user_verification=True)
        except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
            raise ValidationError("security.passkey.invalid", detail=str(exc)[:200]) from None
        transports = credential.get("response", {}).get("transports") or []
        return NewPasskey(bytes_to_base64url(v.credential_id), v.credential_public_key,
                          v.sign_count, str(v.aaguid),
                          tuple(str(t) for t in transports if isinstance(t, str))[:8])

    def authentication_options(self, allowed: list[str]) -> tuple[dict[str, Any], Challenge]:
        import webauthn
        from webauthn.helpers import base64url_to_bytes
        from webauthn.helpers.structs import (
            PublicKeyCredentialDescriptor,
            UserVerificationRequirement,
        )

        opts = webauthn.generate_authentication_options(
            rp_id=self.rp_id,
            allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c))
                               for c in allowed],
            user_verification=UserVerificationRequirement.REQUIRED)
        return (json.loads(webauthn.options_to_json(opts)),
                Challenge(opts.challenge, None, time.monotonic()))

    def verify_authentication(self, credential: dict[str, Any], challenge: Challenge, *,
                              public_key: bytes, sign_count: int) -> int:
        """The new signature counter; AuthError on any mismatch."""
        import webauthn
        from webauthn.helpers.exceptions import InvalidAuthenticationResponse

        if not challenge.fresh():
            raise AuthError("auth.step_up_expired")
        try:
            v = webauthn.verify_authentication_response(
                credential=credential, expected_challenge=challenge.value,
                expected_rp_id=self.rp_id, expected_origin=self.origins,
                credential_public_key=public_key, credential_current_sign_count=sign_count,
                require_user_verification=True)
        except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
            raise AuthError(detail=f"passkey assertion: {str(exc)[:200]}") from None
        return int(v.new_sign_count)
