"""SMS segment sizes: 160 characters of GSM-7 (extension characters count twice), or 70 of
UCS-2 (a character outside the basic plane counts twice) as soon as one character is not GSM-7."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = set("^{}\\[~]|€\f")
GSM7_SEGMENT, UCS2_SEGMENT = 160, 70


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def sms_length(text: str) -> int:
    """Length in the units of the encoding the text needs."""
    if is_gsm7(text):
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def segment_limit(text: str) -> int:
    """One segment's size for a text like this one."""
    return GSM7_SEGMENT if is_gsm7(text) else UCS2_SEGMENT
