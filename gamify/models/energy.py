"""Energy: admin settings, per-player state, actions, boosts, gifts, the transaction ledger, reviews."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow
from .social import Friendship  # noqa: F401  (registered with the energy models)

TRANSACTION_TYPES = (
    "consumption",
    "regeneration",
    "token_refill",
    "gift_sent",
    "gift_received",
    "gift_refund",
    "boost_applied",
    "admin_adjust",
)
GIFT_STATUSES = ("pending", "accepted", "expired")


class EnergySettings(db.Model):
    """The installation's energy numbers (one row, created with the defaults on first use)."""

    __tablename__ = "energy_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    free_max: Mapped[int] = mapped_column(Integer, default=150)
    free_regen_per_hour: Mapped[float] = mapped_column(Float, default=5.0)
    premium_max: Mapped[int] = mapped_column(Integer, default=250)
    premium_regen_per_hour: Mapped[float] = mapped_column(Float, default=8.0)
    tick_minutes: Mapped[int] = mapped_column(Integer, default=12)
    max_skill_bonus: Mapped[int] = mapped_column(Integer, default=25)
    fatigue_gain_per_energy: Mapped[float] = mapped_column(Float, default=0.2)
    endurance_fatigue_reduction: Mapped[float] = mapped_column(Float, default=0.5)
    fatigue_recovery_per_hour: Mapped[float] = mapped_column(Float, default=10.0)
    meditation_recovery_bonus: Mapped[float] = mapped_column(Float, default=10.0)
    fatigue_regen_penalty: Mapped[float] = mapped_column(Float, default=0.5)
    max_skill_cost_reduction: Mapped[float] = mapped_column(Float, default=0.5)
    # Anti-cheat: energy spent in any rolling hour above this is flagged for review (None: rule off).
    # Energy given to every player at their local midnight, once a day (0: off); capped at max.
    daily_grant: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    flag_spend_per_hour: Mapped[Optional[int]] = mapped_column(Integer, default=200, server_default="200")
    token_system_key: Mapped[str] = mapped_column(String(64), default="gems")
    energy_per_token: Mapped[int] = mapped_column(Integer, default=10)
    max_tokens_per_refill: Mapped[int] = mapped_column(Integer, default=10)
    max_energy_per_refill: Mapped[int] = mapped_column(Integer, default=50)
    gifts_sent_per_day: Mapped[int] = mapped_column(Integer, default=5)
    gifts_received_per_day: Mapped[int] = mapped_column(Integer, default=10)
    gift_min: Mapped[int] = mapped_column(Integer, default=1)
    gift_max: Mapped[int] = mapped_column(Integer, default=50)
    gift_default: Mapped[int] = mapped_column(Integer, default=10)
    gift_expiry_hours: Mapped[int] = mapped_column(Integer, default=24)
    refund_expired_gifts: Mapped[bool] = mapped_column(Boolean, default=False)
    low_threshold: Mapped[int] = mapped_column(Integer, default=20)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlayerEnergy(db.Model):
    """Stored state at `last_regen_at` (a tick boundary); the current value is computed lazily."""

    __tablename__ = "player_energy"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    current: Mapped[int] = mapped_column(Integer)
    remainder_milli: Mapped[int] = mapped_column(Integer, default=0)  # fraction of the next point, 0..999
    last_regen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fatigue_milli: Mapped[int] = mapped_column(Integer, default=0)  # 0..100000 (= fatigue 0..100)
    fatigue_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    premium: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-player overrides (None = the tier/settings default).
    regen_per_hour: Mapped[Optional[float]] = mapped_column(Float)
    tick_minutes: Mapped[Optional[int]] = mapped_column(Integer)
    skills: Mapped[dict] = mapped_column(JSONType, default=dict)  # {"endurance": 0..100, ...}
    incapacitated_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    incapacitated_reason: Mapped[str] = mapped_column(String(120), default="")
    full_notified: Mapped[bool] = mapped_column(Boolean, default=True)  # "energy full" sent for this fill
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnergyTransaction(db.Model):
    """Ledger: every change of a player's energy."""

    __tablename__ = "energy_transactions"
    __table_args__ = (
        Index("ix_energy_tx_user_created", "user_id", "created_at"),
        Index("ix_energy_tx_user_id_id", "user_id", "id"),  # the ledger audit: a row's predecessor
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(24), index=True)
    amount: Mapped[int] = mapped_column(Integer)  # signed
    balance_before: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    related_type: Mapped[Optional[str]] = mapped_column(String(32))  # action|gift|boost|metric_event|...
    related_id: Mapped[Optional[int]] = mapped_column(Integer)
    meta: Mapped[dict] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The client's address for changes made through the web or the API (gamify.origin); None in jobs.
    client_ip: Mapped[Optional[str]] = mapped_column(String(45))


class EnergyAction(db.Model):
    """Something a player does that costs energy and records a metric event."""

    __tablename__ = "energy_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    base_cost: Mapped[int] = mapped_column(Integer, default=0)
    # {"easy": 0.8, "medium": 1.0, ...}; empty = no difficulty choice.
    difficulties: Mapped[dict] = mapped_column(JSONType, default=dict)
    # {"gun_fighting": 25}: up to 25% cheaper at skill level 100 (linear).
    skill_reductions: Mapped[dict] = mapped_column(JSONType, default=dict)
    metric_key: Mapped[str] = mapped_column(String(64))
    metric_value: Mapped[float] = mapped_column(Float, default=1.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnergyBoost(db.Model):
    """Boost catalogue (bought with tokens)."""

    __tablename__ = "energy_boosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # regen_speed: +N% regen; max_energy_increase: +N max; consumption_reduction: N% cheaper actions;
    # instant_refill: +N energy now (0 = fill to max).
    type: Mapped[str] = mapped_column(String(32))
    effect_value: Mapped[float] = mapped_column(Float, default=0.0)
    duration_minutes: Mapped[Optional[int]] = mapped_column(Integer)  # None = permanent
    token_cost: Mapped[int] = mapped_column(Integer, default=0)
    rarity: Mapped[str] = mapped_column(String(16), default="common")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlayerBoost(db.Model):
    """A boost a player applied, with the effect copied so later catalogue edits do not change it."""

    __tablename__ = "player_energy_boosts"
    __table_args__ = (Index("ix_player_boost_user_expires", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    boost_id: Mapped[Optional[int]] = mapped_column(ForeignKey("energy_boosts.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(32))
    effect_value: Mapped[float] = mapped_column(Float)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)  # None = permanent
    tokens_paid: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120), default="")

    boost = relationship("EnergyBoost")


class EnergyGift(db.Model):
    __tablename__ = "energy_gifts"
    __table_args__ = (
        Index("ix_gift_sender_day", "sender_id", "sender_local_date"),
        Index("ix_gift_recipient_day", "recipient_id", "recipient_local_date"),
        Index("ix_gift_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    credited: Mapped[Optional[int]] = mapped_column(Integer)  # what the recipient actually got (capped)
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Local calendar days of each side when sent: daily limits count these, so nothing needs resetting.
    sender_local_date: Mapped[date] = mapped_column(Date)
    recipient_local_date: Mapped[date] = mapped_column(Date)

    sender = relationship("User", foreign_keys=[sender_id])
    recipient = relationship("User", foreign_keys=[recipient_id])


class EnergyReview(db.Model):
    """Anti-cheat: a player who spent more in an hour than max + regeneration + top-ups allow (kind
    "spending"), or whose energy rose with no ledger row to explain it (kind "unexplained_increase":
    `spent` holds the unexplained amount, `transaction_id` the first row after the gap)."""

    __tablename__ = "energy_reviews"
    __table_args__ = (UniqueConstraint("transaction_id", name="uq_energy_reviews_transaction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(255))
    spent: Mapped[int] = mapped_column(Integer)
    allowed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    resolved_note: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(24), default="spending", server_default="spending")
    transaction_id: Mapped[Optional[int]] = mapped_column(Integer)

    user = relationship("User")
