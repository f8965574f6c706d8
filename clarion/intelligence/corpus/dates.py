"""Dates, times and weekdays for the slots a family writes as {date}, {time_en}, … .

One notice gets one consistent set: date < date2 < date3, time < time2, in one style per
language, so "12月3日（周四）" and "Thursday 3 December" name real days of the 2026–27 year.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


def date_slots(rng: random.Random) -> dict[str, str]:
    first = date(2026, 9, 1) + timedelta(days=rng.randrange(300))
    days = [first, first + timedelta(days=rng.randint(1, 10))]
    days.append(days[1] + timedelta(days=rng.randint(1, 7)))
    zh_style, en_style = rng.randrange(3), rng.randrange(4)
    hours = sorted(rng.sample(range(8, 21), 2))
    minutes = [rng.choice((0, 0, 30)) for _ in hours]
    slots: dict[str, str] = {"weekday": "周" + ZH_WEEKDAYS[first.weekday()],
                             "weekday_en": EN_WEEKDAYS[first.weekday()]}
    for suffix, day in zip(("", "2", "3"), days):
        slots[f"date{suffix}"] = zh_date(day, zh_style)
        slots[f"date{suffix}_en"] = en_date(day, en_style)
    time_style = rng.randrange(3)
    for suffix, (hour, minute) in zip(("", "2"), zip(hours, minutes)):
        slots[f"time{suffix}"] = zh_time(hour, minute, time_style)
        slots[f"time{suffix}_en"] = en_time(hour, minute, time_style)
    return slots


def zh_date(day: date, style: int) -> str:
    plain = f"{day.month}月{day.day}日"
    if style == 1:
        return f"{plain}（周{ZH_WEEKDAYS[day.weekday()]}）"
    return f"{day.year}年{plain}" if style == 2 else plain


def en_date(day: date, style: int) -> str:
    month, weekday = EN_MONTHS[day.month - 1], EN_WEEKDAYS[day.weekday()]
    return (f"{weekday} {day.day} {month}", f"{day.day} {month}", f"{month} {day.day}",
            f"{weekday[:3]}, {day.day} {month[:3]}")[style]


def zh_time(hour: int, minute: int, style: int) -> str:
    if style == 0:
        return f"{hour}:{minute:02d}"
    half = "上午" if hour < 12 else ("下午" if hour < 18 else "晚上")
    twelve = hour if hour <= 12 else hour - 12
    return f"{half}{twelve}点" + ("半" if minute else "") if style == 1 else f"{half}{twelve}:{minute:02d}"


def en_time(hour: int, minute: int, style: int) -> str:
    if style == 0:
        return f"{hour}:{minute:02d}"
    suffix = "am" if hour < 12 else "pm"
    twelve = hour if hour <= 12 else hour - 12
    return f"{twelve} {suffix}" if not minute else f"{twelve}:{minute:02d} {suffix}"
