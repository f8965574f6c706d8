"""Categories: what a notice is about, and the site's policy for it.

A category says whether people may opt out (``critical``: no), whether they must opt in
(``opt_in``), its quiet hours, its caps per person, its duplicate window, whether it goes out
as a digest, and the SMS opt-out hint.  Stored in the database (``categories``), seeded with a
university's defaults by migration 0005, changed through ``clarion category``, the API
(``/v1/categories``) and the console.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .quiet_hours import QuietHours, first_instant_at

NAME_PATTERN = r"^[a-z0-9_.-]+$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOW_S = 30 * 24 * 3600


class Digest(BaseModel):
    """Collect a person's deliveries of the category, then send one message listing them:
    every day, or every week on ``weekday``, at ``at`` in the person's time zone."""

    model_config = ConfigDict(extra="forbid")

    every: Literal["day", "week"]
    weekday: Literal[WEEKDAYS] | None = None  # type: ignore[valid-type]
    at: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @model_validator(mode="after")
    def _weekday_for_weeks(self) -> Digest:
        if self.every == "week" and self.weekday is None:
            raise ValueError("a weekly digest names its weekday (mon … sun)")
        if self.every == "day" and self.weekday is not None:
            raise ValueError("a daily digest has no weekday")
        return self

    def next_after(self, moment: datetime, tz: Any) -> datetime:
        """The first digest time after ``moment``, for someone in ``tz`` (UTC)."""
        hour, minute = (int(p) for p in self.at.split(":"))
        local = moment.astimezone(tz)
        day = local.date()
        for _ in range(15):
            if self.every == "day" or WEEKDAYS[day.weekday()] == self.weekday:
                at = first_instant_at(day, time(hour, minute), tz)
                if at > moment:
                    return at
            day += timedelta(days=1)
        raise AssertionError("a digest time within two weeks")  # pragma: no cover


class CategoryPolicy(BaseModel):
    """One category's policy, as the API and the CLI take it."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=200)
    critical: bool = False
    opt_in: bool = False
    quiet_hours: str | None = Field(None, description="local window, e.g. 22:00-07:30")
    cap_per_day: int | None = Field(None, ge=1, le=1000)
    cap_per_week: int | None = Field(None, ge=1, le=10000)
    dedup_window_s: int | None = Field(None, ge=1, le=MAX_WINDOW_S)
    digest: Digest | None = None
    sms_footer: str | None = Field(None, max_length=40)
    send_time: bool = Field(False, description="hold each delivery for the person's usual "
                                               "reading hour, within the same day")
    track_links: bool = Field(False, description="links go through a signed redirect that "
                                                 "records the click")

    @field_validator("quiet_hours")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        return None if v in (None, "") else str(QuietHours.parse(v))

    @model_validator(mode="after")
    def _consistent(self) -> CategoryPolicy:
        if self.critical and self.opt_in:
            raise ValueError("a critical category reaches everyone: it cannot be opt-in")
        if self.critical and self.send_time:
            raise ValueError("a critical category is never held: no send_time")
        window = self.window
        if self.digest and window and window.contains(time.fromisoformat(self.digest.at)):
            raise ValueError(f"digest.at {self.digest.at} falls in the quiet hours "
                             f"{self.quiet_hours}")
        return self

    @property
    def window(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours) if self.quiet_hours else None

    @property
    def caps(self) -> tuple[tuple[str, int], ...]:
        """(period, limit) of each cap set: ``day`` and/or ``week``."""
        return tuple((p, n) for p, n in (("day", self.cap_per_day),
                                          ("week", self.cap_per_week)) if n)



class CategorySettings(CategoryPolicy):
    """A category: its name and its policy, as stored."""

    name: str = Field(..., min_length=1, max_length=64, pattern=NAME_PATTERN)

    def row(self) -> dict[str, Any]:
        values = self.model_dump()
        values["digest"] = self.digest.model_dump(exclude_none=True) if self.digest else None
        return values

    @classmethod
    def from_row(cls, row: Any) -> CategorySettings:
        mapping = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
        return cls.model_validate({k: mapping.get(k) for k in cls.model_fields})
