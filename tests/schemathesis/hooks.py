"""Schemathesis hooks for Custodian (loaded through SCHEMATHESIS_HOOKS by run.sh).

A policy is published as `application/toml` (POST /v1/admin/policy-versions); its documented
body is a string, sent as the bytes of that string, as schemathesis sends text/plain.
"""

import schemathesis

schemathesis.serializer.alias("application/toml", "text/plain")
