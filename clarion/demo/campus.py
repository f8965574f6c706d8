"""A plausible university to notify: students, teachers and staff, the same for the same seed.

About 85% students (``S000001`` …, a college and a grade), 10% teachers (``T…``, some also
advisors) and 5% staff (``E…``, offices such as the Library).  Rows use the CSV columns, with
roles joined by ``;``.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

COLUMNS = ("id", "name", "roles", "department", "grade", "locale", "email", "phone",
           "wecom_userid")
EMAIL_DOMAIN = "campus.example.edu"

COLLEGES = (
    "College of Engineering", "College of Computer Science", "College of Sciences",
    "College of Medicine", "College of Humanities", "School of Economics and Management",
    "School of Law", "College of Foreign Languages", "College of Life Sciences",
    "School of Architecture", "School of Fine Arts", "College of Education",
)
OFFICES = (
    "Library", "Security Office", "Academic Affairs Office", "Research Office",
    "Campus Office", "Student Affairs Office", "IT Services", "Logistics Office",
)
GRADES = ("2023", "2024", "2025", "2026")
ZH_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋"
               "余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛")
ZH_GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍红建文辉力鹏宇浩然子轩欣怡梓涵一诺思雨晨阳嘉佳瑶博文俊逸雪梅海燕志远晓东婷颖琳昊天"
EN_FIRST = ("Alice", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Henry", "Isla",
            "Jack", "Kate", "Liam", "Mia", "Noah", "Olivia", "Paul", "Quinn", "Ruby",
            "Sam", "Tara", "Umar", "Vera", "Will", "Yara", "Zoe")
EN_LAST = ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas",
           "Roberts", "Walker", "Wright", "Green", "Hall", "Wood", "Clarke", "Patel",
           "Khan", "Lewis", "Young", "King", "Scott", "Baker", "Nguyen", "Kim", "Garcia")

STUDENT_SHARE, TEACHER_SHARE = 0.85, 0.10  # staff take the rest
ADVISOR_SHARE = 0.3  # of teachers
ZH_SHARE = 0.8  # of everyone


def generate_campus(n: int = 2000, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` people in CSV-column dicts, students first, then teachers, then staff."""
    rng = random.Random(seed)
    teachers = round(n * TEACHER_SHARE)
    staff = round(n * (1 - STUDENT_SHARE - TEACHER_SHARE))
    students = max(0, n - teachers - staff)
    phones = iter(rng.sample(range(10**8), n))
    people = [_student(rng, i, next(phones)) for i in range(1, students + 1)]
    people += [_teacher(rng, i, next(phones)) for i in range(1, teachers + 1)]
    people += [_staff(rng, i, next(phones)) for i in range(1, staff + 1)]
    return people[:n]


def write_campus_csv(path: str | Path, n: int = 2000, seed: int = 1) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(generate_campus(n, seed))
    return path


def _student(rng: random.Random, number: int, phone: int) -> dict[str, Any]:
    return _person(rng, f"S{number:06d}", "student", rng.choice(COLLEGES), rng.choice(GRADES),
                   phone)


def _teacher(rng: random.Random, number: int, phone: int) -> dict[str, Any]:
    roles = "teacher;advisor" if rng.random() < ADVISOR_SHARE else "teacher"
    return _person(rng, f"T{number:06d}", roles, rng.choice(COLLEGES), "", phone)


def _staff(rng: random.Random, number: int, phone: int) -> dict[str, Any]:
    return _person(rng, f"E{number:06d}", "staff", rng.choice(OFFICES), "", phone)


def _person(rng: random.Random, person_id: str, roles: str, department: str, grade: str,
            phone: int) -> dict[str, Any]:
    locale = "zh-CN" if rng.random() < ZH_SHARE else "en"
    return {
        "id": person_id,
        "name": _name(rng, locale),
        "roles": roles,
        "department": department,
        "grade": grade,
        "locale": locale,
        "email": f"{person_id}@{EMAIL_DOMAIN}",
        "phone": f"+86138{phone:08d}",
        "wecom_userid": person_id.lower(),
    }


def _name(rng: random.Random, locale: str) -> str:
    if locale == "en":
        return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
    given = "".join(rng.choice(ZH_GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(ZH_SURNAMES) + given
