"""Mobile push for host apps: the devices API, and the two senders against loopback fakes of Expo's push
API and FCM HTTP v1 (with its OAuth2 token endpoint) that check the exact request each service expects;
an invalid-token answer (Expo DeviceNotRegistered, FCM 404 UNREGISTERED) removes the token."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gamify.models import DeviceToken
from gamify.services import mobile_push
from tests import factories as f
from tests.mailfixtures import smtp_server, work  # noqa: F401

EXPO_OK = "ExponentPushToken[aaaaaaaaaaaaaaaaaaaaaa]"
EXPO_GONE = "ExponentPushToken[bbbbbbbbbbbbbbbbbbbbbb]"


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Fake:
    """A loopback HTTP service: `answer(path, headers, body) -> (status, json)`; keeps every request."""

    def __init__(self, answer):
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append({"path": self.path, "headers": headers, "body": body})
                status, payload = answer(self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(client, db):
    return {"X-API-Key": f.api_key()}


def _devices(user_id) -> list[tuple]:
    return [(d.token, d.platform) for d in mobile_push.devices(user_id)]


# ---------------------------------------------------------------------------------------------
# API


def test_devices_are_registered_listed_moved_and_removed(app, db, client, api):
    ann, bob = f.player("ann"), f.player("bob")
    db.session.commit()
    r = client.post("/api/v1/users/ann/devices", json={"token": EXPO_OK, "platform": "expo"}, headers=api)
    assert r.status_code == 200 and r.json["token"] == EXPO_OK and r.json["platform"] == "expo"
    client.post("/api/v1/users/ann/devices", json={"token": "fcm-token:1", "platform": "android"}, headers=api)
    listed = client.get("/api/v1/users/ann/devices", headers=api).json["devices"]
    assert [(d["token"], d["platform"]) for d in listed] == [(EXPO_OK, "expo"), ("fcm-token:1", "android")]
    # The same phone signed in as Bob: the token moves to him
    client.post("/api/v1/users/bob/devices", json={"token": "fcm-token:1", "platform": "ios"}, headers=api)
    assert _devices(ann.id) == [(EXPO_OK, "expo")] and _devices(bob.id) == [("fcm-token:1", "ios")]
    r = client.delete(f"/api/v1/users/ann/devices/{quote(EXPO_OK, safe='')}", headers=api)
    assert r.json["deleted"] is True and _devices(ann.id) == []
    assert client.delete("/api/v1/users/ann/devices/nope", headers=api).json["deleted"] is False


@pytest.mark.parametrize(
    "body,field",
    [
        ({"token": EXPO_OK, "platform": "windows"}, "platform"),
        ({"platform": "ios"}, "token"),
        ({"token": "", "platform": "ios"}, "token"),
        ({"token": "a b", "platform": "ios"}, "token"),
        ({"token": "x" * 513, "platform": "ios"}, "token"),
    ],
)
def test_bad_devices_are_refused(app, db, client, api, body, field):
    f.player("ann")
    db.session.commit()
    r = client.post("/api/v1/users/ann/devices", json=body, headers=api)
    assert r.status_code == 400 and field in json.dumps(r.json), r.json
    assert client.post(
        "/api/v1/users/zed/devices", json={"token": "t", "platform": "ios"}, headers=api
    ).status_code == (404)


# ---------------------------------------------------------------------------------------------
# Expo


def test_expo_request_format_and_device_not_registered_removes_the_token(app, db):
    def answer(path, headers, body):
        tickets = []
        for m in json.loads(body):
            if m["to"] == EXPO_GONE:
                tickets.append(
                    {
                        "status": "error",
                        "message": f'"{EXPO_GONE}" is not a registered push notification recipient',
                        "details": {"error": "DeviceNotRegistered"},
                    }
                )
            else:
                tickets.append({"status": "ok", "id": "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"})
        return 200, {"data": tickets}

    fake = Fake(answer)
    try:
        u = f.player("ann")
        mobile_push.register(u.id, EXPO_OK, "expo")
        mobile_push.register(u.id, EXPO_GONE, "expo")
        app.config.update(
            EXPO_PUSH_ENABLED=True, EXPO_PUSH_URL=fake.url + "/--/api/v2/push/send", EXPO_ACCESS_TOKEN="s3"
        )
        msg = mobile_push.Message("Keep it going", "3 hours left", "https://g.example/l/streak/t")
        result = mobile_push.send_to(mobile_push.devices(u.id), msg)
        mobile_push.forget(result.invalid)
    finally:
        app.config.update(EXPO_PUSH_ENABLED=False, EXPO_ACCESS_TOKEN=None)
        fake.close()
    (req,) = fake.requests
    assert req["path"] == "/--/api/v2/push/send"
    assert req["headers"]["content-type"] == "application/json"
    assert req["headers"]["accept"] == "application/json"
    assert req["headers"]["authorization"] == "Bearer s3"
    expected = {"title": "Keep it going", "body": "3 hours left", "data": {"url": msg.url}, "sound": "default"}
    assert json.loads(req["body"]) == [{"to": EXPO_OK, **expected}, {"to": EXPO_GONE, **expected}]
    assert (result.sent, result.invalid, result.errors) == ([EXPO_OK], [EXPO_GONE], [])
    assert _devices(u.id) == [(EXPO_OK, "expo")]


def test_nothing_is_sent_when_no_sender_is_configured(app, db):
    u = f.player("ann")
    mobile_push.register(u.id, EXPO_OK, "expo")
    mobile_push.register(u.id, "fcm:1", "android")
    assert mobile_push.senders() == {}
    r = mobile_push.send_to(mobile_push.devices(u.id), mobile_push.Message("t", "b"))
    assert (r.sent, r.invalid, r.errors) == ([], [], [])


# ---------------------------------------------------------------------------------------------
# FCM HTTP v1


@pytest.fixture
def service_account():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key.public_key(), {
        "type": "service_account",
        "project_id": "demo-app",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "push@demo-app.iam.gserviceaccount.com",
    }


def test_fcm_oauth_jwt_and_message_format_and_unregistered_removes_the_token(app, db, tmp_path, service_account):
    public, account = service_account
    seen = {}

    def answer(path, headers, body):
        if path == "/token":
            form = parse_qs(body.decode())
            assert headers["content-type"] == "application/x-www-form-urlencoded"
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            head, claims, sig = form["assertion"][0].split(".")
            public.verify(unb64url(sig), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
            seen["head"], seen["claims"] = json.loads(unb64url(head)), json.loads(unb64url(claims))
            return 200, {"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"}
        assert path == "/v1/projects/demo-app/messages:send"
        assert headers["authorization"] == "Bearer ya29.test"
        if json.loads(body)["message"]["token"] == "fcm-gone":
            return 404, {
                "error": {
                    "code": 404,
                    "message": "Requested entity was not found.",
                    "status": "NOT_FOUND",
                    "details": [
                        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
                    ],
                }
            }
        return 200, {"name": "projects/demo-app/messages/0:1500415314455276%31bd1c9631bd1c96"}

    fake = Fake(answer)
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(account))
    try:
        u = f.player("ann")
        mobile_push.register(u.id, "fcm-ok", "android")
        mobile_push.register(u.id, "fcm-gone", "ios")
        app.config.update(
            FCM_SERVICE_ACCOUNT_FILE=str(path),
            FCM_PROJECT_ID="demo-app",
            FCM_URL=fake.url,
            FCM_TOKEN_URL=fake.url + "/token",
        )
        app.extensions.pop("gamify.fcm", None)
        msg = mobile_push.Message("Keep it going", "3 hours left", "https://g.example/l/streak/t")
        before = int(time.time())
        result = mobile_push.send_to(mobile_push.devices(u.id), msg)
        mobile_push.forget(result.invalid)
        again = mobile_push.send_to(mobile_push.devices(u.id), msg)  # the access token is reused
    finally:
        app.config.update(FCM_SERVICE_ACCOUNT_FILE=None, FCM_PROJECT_ID=None)
        app.extensions.pop("gamify.fcm", None)
        fake.close()
    assert seen["head"] == {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
    claims = seen["claims"]
    assert claims["iss"] == account["client_email"] and claims["aud"] == fake.url + "/token"
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert claims["exp"] - claims["iat"] == 3600 and before <= claims["iat"] <= before + 5
    sends = [r for r in fake.requests if r["path"] != "/token"]
    assert [r["path"] for r in fake.requests].count("/token") == 1
    assert json.loads(sends[0]["body"]) == {
        "message": {
            "token": "fcm-ok",
            "notification": {"title": "Keep it going", "body": "3 hours left"},
            "data": {"url": msg.url},
        }
    }
    assert sends[0]["headers"]["content-type"] == "application/json"
    assert (result.sent, result.invalid) == (["fcm-ok"], ["fcm-gone"]) and again.sent == ["fcm-ok"]
    assert _devices(u.id) == [("fcm-ok", "android")]
    assert db.session.execute(db.select(DeviceToken.token)).scalars().all() == ["fcm-ok"]


# ---------------------------------------------------------------------------------------------
# The streak reminder reaches the app (through the real RQ worker); a dead token: the e-mail instead


def _expo(app, gone: set):
    def answer(path, headers, body):
        return 200, {
            "data": [
                {"status": "error", "message": "gone", "details": {"error": "DeviceNotRegistered"}}
                if m["to"] in gone
                else {"status": "ok", "id": "1"}
                for m in json.loads(body)
            ]
        }

    fake = Fake(answer)
    app.config.update(EXPO_PUSH_ENABLED=True, EXPO_PUSH_URL=fake.url + "/--/api/v2/push/send")
    return fake


@pytest.mark.parametrize("dead", [False, True])
def test_the_reminder_goes_to_the_app_or_falls_back_to_email(app, db, smtp_server, dead):
    from gamify import jobs
    from gamify.models import EmailSend
    from gamify.services import outbox

    from .test_webpush import EVENING, QUEUES, _at_risk, _log

    u = _at_risk()
    mobile_push.register(u.id, EXPO_OK, "expo")
    outbox.set_preference(u.id, "streak_reminder", "push", True)  # as the host app's settings would
    outbox.set_preference(u.id, "streak_reminder", "email", False)
    db.session.commit()
    fake = _expo(app, {EXPO_OK} if dead else set())
    try:
        with time_machine.travel(EVENING, tick=False):
            jobs.streak_reminders()
            work(QUEUES)
    finally:
        app.config.update(EXPO_PUSH_ENABLED=False)
        fake.close()
    (req,) = fake.requests
    (message,) = json.loads(req["body"])
    assert message["to"] == EXPO_OK and "5-day streak" in message["title"] and "/l/streak/" in message["data"]["url"]
    if dead:
        assert _devices(u.id) == [] and len(smtp_server.messages) == 1
        assert _log() == [("push", "fell_back"), ("email", "sent")]
    else:
        assert _devices(u.id) == [(EXPO_OK, "expo")] and smtp_server.messages == []
        assert _log() == [("push", "sent")]
        assert db.session.execute(db.select(EmailSend.status)).scalar_one() == "skipped"
