"""TLS client contexts for checks and webhooks, built once per trust store (building one
costs milliseconds).

Certificates are verified against certifi's bundle plus, when configured, an extra CA bundle
(`STATUSCHECKER_CA_BUNDLE`, for services behind an internal CA).
"""

from __future__ import annotations

import functools
import ssl
from datetime import datetime

import certifi
from cryptography import x509


@functools.cache
def client_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying client context trusting certifi's CAs and those in `ca_bundle`."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def peer_cert_expiry(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> datetime | None:
    """The end of validity (UTC) of the peer's certificate on a TLS connection; None when there
    is none or it cannot be read. Parsed with cryptography: the text form of getpeercert()
    costs several times as much, and is empty when the chain was not verified."""
    der = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
    if der is None:
        return None
    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        return None
