"""`python -m gamify.devmail`: a local debugging SMTP server (aiosmtpd) on 127.0.0.1:MAIL_PORT that
accepts every message and writes it, unchanged, as a .eml file into instance/mail/ (open it with any
mail client, or read it as text). Never relays anything. Stop with Ctrl-C / SIGTERM.

Options: --host 127.0.0.1  --port $MAIL_PORT (8025)  --dir instance/mail
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import re
import signal
import sys
import threading
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path
from typing import Optional

from aiosmtpd.controller import Controller

from .config import INSTANCE

log = logging.getLogger("gamify.devmail")


class SaveToDir:
    """aiosmtpd handler: one .eml file per message (written atomically)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        try:
            subject = str(message_from_bytes(content, policy=policy.default).get("Subject", ""))
        except Exception:  # noqa: BLE001 - a malformed message is still saved
            subject = ""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-")[:60] or "message"
        with self._lock:
            n = next(self._seq)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{os.getpid()}-{n:04d}-{slug}.eml"
        header = (
            f"X-Devmail-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Devmail-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(header + content)
        tmp.replace(path)
        log.info("saved %s (to %s)", path.name, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def serve(host: str, port: int, directory: Path):
    """Start the server in a background thread; returns the aiosmtpd Controller (call .stop())."""

    controller = Controller(SaveToDir(directory), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller


def main(argv: Optional[list[str]] = None) -> int:

    p = argparse.ArgumentParser(prog="python -m gamify.devmail", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("MAIL_PORT", "8025")))
    p.add_argument("--dir", default=str(INSTANCE / "mail"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        controller = serve(args.host, args.port, Path(args.dir))
    except OSError as e:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, e)
        return 2
    log.info("dev SMTP server on %s:%s, writing messages to %s", args.host, args.port, args.dir)
    try:
        while not stop.wait(1):
            pass
    finally:
        controller.stop()
        log.info("dev SMTP server stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
