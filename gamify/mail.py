"""E-mail: multipart (text + HTML) messages rendered from templates/email/<name>.txt and .html, sent
over SMTP with smtplib (MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS, MAIL_FROM).

Sending raises on any failure (connection refused, timeout, 4xx/5xx reply), so the RQ job that sends
retries; callers mark a message sent only after `send()` returned."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Callable, Optional

from flask import current_app, render_template
from markupsafe import Markup

from .ops import telemetry

SMTP_TIMEOUT = 15  # seconds, per socket operation


def _domain() -> str:
    addr = parseaddr(current_app.config.get("MAIL_FROM") or "")[1]
    return addr.rpartition("@")[2] or "gamify.local"


def build(
    to: str, subject: str, template: str, context: Optional[dict] = None, unsubscribe_url: Optional[str] = None
) -> EmailMessage:
    """A text + HTML message. With `unsubscribe_url`, RFC 8058 one-click unsubscribe headers are set
    (the URL must accept a POST of "List-Unsubscribe=One-Click" without login or CSRF token)."""
    ctx = dict(context or {}, subject=subject, unsubscribe_url=unsubscribe_url)
    text = render_template(f"email/{template}.txt", **ctx)
    html = render_template(f"email/{template}.html", **ctx)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = current_app.config.get("MAIL_FROM") or "gamify <noreply@gamify.local>"
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=_domain())
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    # Bodies are encoded above with 78-character lines; for the headers allow SMTP's 998, so a long
    # List-Unsubscribe URL stays a plain <https://...> instead of RFC 2047 encoded words (which mail
    # providers do not decode there, breaking one-click unsubscribe).
    msg.policy = msg.policy.clone(max_line_length=998)
    return msg


def build_notification(to: str, rendered, type_label: str, unsubscribe_url: Optional[str] = None) -> EmailMessage:
    """A notification e-mail: `rendered` (services.notification_templates.Rendered: subject, text, html)
    inside the frame every notification shares (templates/email/notification.*: header, unsubscribe
    footer). The HTML body was rendered, escaped, by the template sandbox."""
    ctx = {"text_body": rendered.text, "html_body": Markup(rendered.html), "type_label": type_label}
    return build(to, rendered.subject, "notification", ctx, unsubscribe_url=unsubscribe_url)


class OutcomeUnknown(Exception):
    """The message was handed to the SMTP server, and then the connection failed before the server
    said whether it took it: it may have been delivered. Retrying could send it twice."""


def send(msg: EmailMessage, on_submit: Optional[Callable[[], None]] = None) -> str:
    """Deliver over SMTP; returns the Message-ID. Raises smtplib.SMTPException / OSError when the
    server did not take the message (safe to retry), OutcomeUnknown when it may have.

    `on_submit` runs once the session is ready, just before the message goes out: the caller records
    the attempt there (gamify.jobs.deliver_email), so a crash from then on is never retried blindly.
    Whatever fails after the server accepted the message (QUIT) is ignored: it was accepted.
    Every submission counts in the e-mail deliveries series (sent, failed, unknown)."""
    try:
        message_id = _submit(msg, on_submit)
    except OutcomeUnknown:
        telemetry.delivered("email", "unknown")
        raise
    except BaseException:
        telemetry.delivered("email", "failed")
        raise
    telemetry.delivered("email", "sent")
    return message_id


def _submit(msg: EmailMessage, on_submit: Optional[Callable[[], None]]) -> str:
    cfg = current_app.config
    host, port = cfg.get("MAIL_SERVER") or "127.0.0.1", int(cfg.get("MAIL_PORT") or 25)
    smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    try:
        smtp.ehlo()
        if cfg.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        if on_submit is not None:
            on_submit()
        try:
            refused = smtp.send_message(msg)
        except smtplib.SMTPResponseException:
            raise  # the server answered no (sender, recipient or data refused): not taken
        except smtplib.SMTPRecipientsRefused:
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise OutcomeUnknown(f"{type(e).__name__}: {e}") from e
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return msg["Message-ID"]
