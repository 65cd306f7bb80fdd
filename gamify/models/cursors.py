"""How far a scheduled job that walks an append-only table has got, so each run starts where the last
one stopped (a job that fails rolls back its cursor with its work)."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class JobCursor(db.Model):
    __tablename__ = "job_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
