"""A single counter bumped whenever feature configuration changes, so every process can cache
the configuration and notice changes with one cheap read."""

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ConfigVersion(db.Model):
    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
