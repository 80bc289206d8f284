"""Certificate checks for `web.tls`, run on the config before any resource is declared.

A certificate from files that the edge could not serve (a key of another certificate, a name it
does not cover, expired, a chain out of order) is refused here, naming the key to change, so a
bad secret never replaces a working edge. Messages never include key material.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

#: certificates closer than this to their end make the release's verify step warn
EXPIRY_WARNING_DAYS = 14


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_chain(pem: str) -> list[x509.Certificate]:
    """PEM certificates in order; ValueError when there are none or one is broken."""
    return x509.load_pem_x509_certificates(pem.encode())


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]


def covers(names: Sequence[str], domain: str) -> bool:
    """Does a certificate for `names` serve `domain`? (RFC 6125: a wildcard is one left label.)"""
    for name in names:
        if name == domain:
            return True
        if name.startswith("*.") and not domain.startswith("*."):
            head, _, rest = domain.partition(".")
            if head and rest == name[2:]:
                return True
    return False


def check_roots(pem: str) -> list[str]:
    try:
        load_chain(pem)
    except ValueError:
        return ["web.tls.ca_roots: not PEM certificates (-----BEGIN CERTIFICATE-----…)"]
    return []


def check_files(
    chain_pem: str, key_pem: str, domains: Sequence[str], now: dt.datetime | None = None
) -> list[str]:
    """Problems of a certificate chain and key for `domains`, one line each."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        chain = load_chain(chain_pem)
    except ValueError:
        return ["web.tls.certificate: not a PEM certificate chain (-----BEGIN CERTIFICATE-----…)"]
    leaf = chain[0]
    problems = []
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        problems.append("web.tls.key: not an unencrypted PEM private key")
    else:
        if _spki(key.public_key()) != _spki(leaf.public_key()):
            problems.append(
                "web.tls.key: does not match web.tls.certificate (the first certificate's "
                "public key is another key's): give the key the certificate was issued for"
            )
    if leaf.not_valid_after_utc <= now:
        problems.append(
            f"web.tls.certificate: expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    if leaf.not_valid_before_utc > now:
        problems.append(
            f"web.tls.certificate: not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    names = dns_names(leaf)
    uncovered = [d for d in domains if not covers(names, d)]
    if uncovered:
        problems.append(
            f"web.tls.certificate: does not cover {', '.join(uncovered)} (its names: "
            f"{', '.join(names) or 'none'})"
        )
    for i, (cert, issuer) in enumerate(itertools.pairwise(chain)):
        if cert.issuer != issuer.subject:
            problems.append(
                f"web.tls.certificate: certificate {i + 2} did not issue certificate {i + 1}: "
                "put the leaf first, then each issuer in order"
            )
            break
    return problems
