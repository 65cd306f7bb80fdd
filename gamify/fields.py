"""Form fields with bounds: the only number and date fields forms use.

WTForms' IntegerField takes 10**25, FloatField and DecimalField take 1e308 and Infinity, and DateField
takes year 1: the database (or date arithmetic next to it) then failed with a 500. These refuse such
input as a field error ("enter a number from … to …"), whatever narrower NumberRange a form adds.
"""

from __future__ import annotations

import math

from wtforms import DateField, DateTimeLocalField, DecimalField, FloatField, IntegerField

from .params import MAX_INT  # a database INTEGER: the one bound for whole numbers

MAX_NUMBER = 10**12  # amounts, thresholds, multipliers: far beyond any real setting
YEARS = (1900, 2200)  # dates a schedule can hold with room for arithmetic on either side


def _bounded(field, value, lo, hi):
    if value is not None and not (lo <= value <= hi):  # NaN compares false: refused too
        field.data = None
        raise ValueError(f"Enter a number from {lo:,} to {hi:,}.")


class Whole(IntegerField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if not valuelist:  # nothing sent: the default stands
            return
        _bounded(self, self.data, -MAX_INT, MAX_INT)


class _FiniteBounded:
    """Mixin for float and decimal fields: finite, within ±MAX_NUMBER."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if not valuelist:  # nothing sent: the default stands
            return
        if self.data is not None and not math.isfinite(self.data):
            self.data = None
            raise ValueError("Enter a finite number.")
        _bounded(self, self.data, -MAX_NUMBER, MAX_NUMBER)


class Number(_FiniteBounded, FloatField):
    pass


class Amount(_FiniteBounded, DecimalField):
    pass


def _year_ok(field, value):
    if value is not None and not (YEARS[0] <= value.year <= YEARS[1]):
        field.data = None
        raise ValueError(f"Enter a date between the years {YEARS[0]} and {YEARS[1]}.")


class Day(DateField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if not valuelist:  # nothing sent: the default stands
            return
        _year_ok(self, self.data)


class LocalDateTime(DateTimeLocalField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if not valuelist:  # nothing sent: the default stands
            return
        _year_ok(self, self.data)
