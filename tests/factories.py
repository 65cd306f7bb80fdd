"""Small builders for test data: configure features the way an admin would."""

from datetime import datetime, timezone

from gamify.extensions import db
from gamify.models import (
    Achievement,
    Metric,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    StreakConfig,
    StreakRequirement,
)
from gamify.services import apikeys, users


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def metric(key="lessons", name="Lessons", unit="lessons", allow_negative=False) -> Metric:
    m = Metric(key=key, name=name, unit=unit, allow_negative=allow_negative)
    db.session.add(m)
    db.session.flush()
    return m


def streak(
    metric_thresholds: dict, frequency="daily", mode="any", freeze_initial=0, freeze_every=None, freeze_max=0
) -> StreakConfig:
    cfg = StreakConfig(
        frequency=frequency,
        mode=mode,
        freeze_initial=freeze_initial,
        freeze_every=freeze_every,
        freeze_max=freeze_max,
        enabled=True,
    )
    db.session.add(cfg)
    db.session.flush()
    for m, t in metric_thresholds.items():
        db.session.add(StreakRequirement(config_id=cfg.id, metric_id=m.id, threshold=t))
    db.session.flush()
    db.session.expire(cfg)
    return cfg


def player(external_id="p1", tz="UTC", attributes=None):
    user, _ = users.identify(external_id, tz=tz, attributes=attributes or {})
    db.session.flush()
    return user


def achievement(key, trigger, status="active", **kw) -> Achievement:
    a = Achievement(key=key, name=kw.pop("name", key.title()), trigger=trigger, status=status, **kw)
    db.session.add(a)
    db.session.flush()
    return a


def system(key="xp", levels=(), **kw) -> PointsSystem:
    s = PointsSystem(key=key, name=kw.pop("name", key.upper()), **kw)
    db.session.add(s)
    db.session.flush()
    for k, name, threshold in levels:
        db.session.add(PointsLevel(system_id=s.id, key=k, name=name, threshold=threshold))
    db.session.flush()
    db.session.expire(s)
    return s


def trigger(system, type_, points, **kw) -> PointsTrigger:
    t = PointsTrigger(system_id=system.id, type=type_, points=points, **kw)
    db.session.add(t)
    db.session.flush()
    return t


def boost(system, multiplier, rounding="floor", starts=None, ends=None, **kw) -> PointsBoost:
    b = PointsBoost(
        system_id=system.id,
        name=kw.pop("name", f"x{multiplier}"),
        multiplier=multiplier,
        rounding=rounding,
        starts_at=starts or utc(2000, 1, 1),
        ends_at=ends or utc(2100, 1, 1),
        **kw,
    )
    db.session.add(b)
    db.session.flush()
    return b


def api_key() -> str:
    _key, secret = apikeys.create("test")
    db.session.commit()
    return secret


def web_player(email="player@example.com", password="correct horse", tz="UTC", attributes=None, name="Pat"):
    user = users.signup(email, password, name, tz, attributes=attributes)
    db.session.commit()
    return user


def admin(email="admin@example.com", password="correct horse"):
    from gamify.models import ROLE_ADMIN, User

    user = User(email=email, display_name="Admin", role=ROLE_ADMIN, timezone="UTC", attributes={})
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def csrf_token(client, path="/login") -> str:
    """The CSRF token of the client's session, read from a rendered page's meta tag."""
    import re

    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, f"no csrf meta tag on {path}"
    return m.group(1)


def login(client, email="player@example.com", password="correct horse"):
    token = csrf_token(client, "/login")
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp
