#!/usr/bin/env python3
"""A real SMTP server for openciam-mail's tests (aiosmtpd), on 127.0.0.1 and an ephemeral port.

Prints JSON lines on stdout: first {"port": N} once listening, then one line per received
message with the envelope, the TLS/auth state of the session and the message parsed by Python's
standard `email` package (an independent MIME parser). Exits when stdin closes, so it never
outlives the test that started it.

Modes: --tls none | starttls (STARTTLS offered and required) | tls (implicit TLS).
--auth USER:PASS requires AUTH with those credentials (over TLS, aiosmtpd's default).
Recipients bounce-*@… get "550 no such user", busy-*@… get "451 try again later".
"""

import argparse
import asyncio
import email
import email.policy
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_message(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        "headers": [[k, str(v)] for k, v in msg.items()],
        "subject": str(msg["Subject"]),
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "content_type": msg.get_content_type(),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
    }


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 no such user"
        if local.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": session.authenticated,
            "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
        }
        record.update(parse_message(envelope.original_content or envelope.content))
        emit(record)
        return "250 Message accepted"


def make_authenticator(user: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticator


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", choices=["none", "starttls", "tls"], default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth")
    args = ap.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    kwargs = {"hostname": "sink.test", "decode_data": False}
    if args.tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)
        kwargs.update(authenticator=make_authenticator(user, password), auth_required=True)

    loop = asyncio.get_running_loop()
    handler = Handler()
    server = await loop.create_server(
        lambda: SMTP(handler, **kwargs),
        host="127.0.0.1",
        port=0,
        ssl=context if args.tls == "tls" else None,
    )
    emit({"port": server.sockets[0].getsockname()[1]})

    # Serve until the test closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
