#!/usr/bin/env bash
# Python packages the Rust test suites start as real peers:
# - aiosmtpd: the SMTP server of crates/openciam-mail/tests/smtp.rs (tests/smtp_sink.py).
# Idempotent; pinned so every machine tests against the same server.
set -euo pipefail
if python3 -c 'import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != "1.4.6")' 2>/dev/null; then
    exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'aiosmtpd==1.4.6'
