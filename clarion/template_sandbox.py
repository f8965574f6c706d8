"""A Jinja2 sandbox that bounds the work and the memory one template may take.

Jinja's own sandbox stops a template from reaching Python's internals, not from stalling the
process: ``{{ 3**10000000 }}`` holds the interpreter lock for seconds (and Jinja folds it while
*compiling*), ``'x' * 10**9`` takes a gigabyte, two nested loops over ``range(100000)`` run
for hours.  ``BoundedSandbox`` adds three bounds:

- **operands**: every arithmetic operator is intercepted (an intercepted operator is never
  folded at compile time) and refused before it runs when its result would be an integer of
  more than ``MAX_INT_BITS`` bits or a string or sequence of more than ``MAX_LENGTH`` items;
  ``~`` concatenation and every call's result are held to ``MAX_LENGTH`` as well;
- **sized calls**: filters and ``str`` methods that grow their input by an argument (a width,
  a count, a separator, a format width) are refused when the estimated result is too long;
  ``range`` gives at most ``MAX_RANGE`` numbers;
- **work**: inside ``budget()`` each call, attribute or item access, operator, concatenation
  and loop iteration costs a step; past ``MAX_STEPS`` steps or ``MAX_SECONDS`` the render
  stops.  Outside a budget (compiling) steps are not counted.

Every refusal is a ``TemplateTooCostly`` (a ``SecurityError``) whose message names the
operation and the bound, never a value.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes, pass_eval_context
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

MAX_INT_BITS = 10_000  # ~3,000 digits
MAX_LENGTH = 1_000_000  # characters of a string, items of a sequence
MAX_RANGE = 100_000
MAX_STEPS = 100_000  # per render of one field
MAX_SECONDS = 1.0  # per render of one field
LOOP_FILTER, CONCAT_FILTER = "clarion_loop", "clarion_concat"


class TemplateTooCostly(SecurityError):
    """The template would take more time or memory than a render may."""


# --- the work budget --------------------------------------------------------------------------

class budget:  # noqa: N801 - used as a context manager, like contextlib's
    """Count the steps of what renders inside (in this thread or task): at most ``steps``,
    for at most ``seconds`` (the clock is read every 64 steps)."""

    __slots__ = ("steps_left", "deadline", "_token")

    def __init__(self, steps: int = MAX_STEPS, seconds: float = MAX_SECONDS):
        self.steps_left, self.deadline = steps, time.monotonic() + seconds

    def __enter__(self) -> budget:
        self._token = _BUDGET.set(self)
        return self

    def __exit__(self, *_: Any) -> None:
        _BUDGET.reset(self._token)

    def charge(self) -> None:
        self.steps_left -= 1
        if self.steps_left & 63:
            return
        if self.steps_left < 0:
            raise TemplateTooCostly(f"the template takes more than {MAX_STEPS:,} steps "
                                    "(loops, calls, filters)")
        if time.monotonic() > self.deadline:
            raise TemplateTooCostly(f"the template takes longer than {MAX_SECONDS:g} s")


_BUDGET: ContextVar[budget | None] = ContextVar("clarion_template_budget", default=None)


def _charge() -> None:
    current = _BUDGET.get()
    if current is not None:
        current.charge()


# --- size checks ------------------------------------------------------------------------------

def _refuse_longer(estimate: float, what: str) -> None:
    if estimate > MAX_LENGTH:
        raise TemplateTooCostly(f"{what} would make more than {MAX_LENGTH:,} characters or "
                                "items")


def _bounded(value: Any, what: str) -> Any:
    """``value`` if it is a reasonable size (a check after the fact, for what grows linearly)."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        _refuse_longer(len(value), what)
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateTooCostly(f"{what} would make a number of more than {MAX_INT_BITS:,} bits")
    return value


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _check_power(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if _int_bits(left) * right > MAX_INT_BITS:
            raise TemplateTooCostly(f"'**' would make a number of more than {MAX_INT_BITS:,} "
                                    "bits")


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise TemplateTooCostly(f"'*' would make a number of more than {MAX_INT_BITS:,} bits")
        return
    count, sequence = (left, right) if isinstance(left, int) else (right, left)
    if isinstance(count, int) and isinstance(sequence, Sized):
        _refuse_longer(len(sequence) * max(count, 0), "'*'")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _percent_widths(template: str) -> int:
    """The widths and precisions a ``%`` format asks for; ``*`` (a width taken from the
    arguments) counts as too large."""
    total = 0
    for width, precision in _PERCENT_SPEC.findall(template):
        for number in (width, precision):
            total += MAX_LENGTH + 1 if number == "*" else int(number or 0)
    return total


def _format_widths(template: str) -> int:
    """The widths a ``str.format`` template asks for; a nested ``{…}`` spec counts as too large."""
    total = 0
    for _literal, _name, spec, _conversion in string.Formatter().parse(template):
        if spec and "{" in spec:
            return MAX_LENGTH + 1
        total += sum(int(n) for n in re.findall(r"\d+", spec or ""))
    return total


def _check_operands(op: str, left: Any, right: Any) -> None:
    if max(_int_bits(left), _int_bits(right)) > MAX_INT_BITS:
        raise TemplateTooCostly(f"an operand of {op!r} has more than {MAX_INT_BITS:,} bits")
    if op == "**":
        _check_power(left, right)
    elif op == "*":
        _check_product(left, right)
    elif op == "+" and isinstance(left, Sized) and isinstance(right, Sized):
        _refuse_longer(len(left) + len(right), "'+'")
    elif op == "%" and isinstance(left, str):
        _refuse_longer(len(left) + _percent_widths(left), "'%' formatting")


# --- estimates of what a sized call makes -----------------------------------------------------

def _number(value: Any) -> int:
    return len(value) if isinstance(value, str) else int(value)


def _replacing(text: Any, old: Any, new: Any, count: Any = -1) -> float:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if count is not None and int(count) >= 0:
        times = min(times, int(count))
    return len(text) + times * max(len(new) - len(old), 0)


def _joining(items: Sized, separator: Any = "", *_: Any) -> float:
    return len(items) + len(str(separator)) * max(len(items) - 1, 0)


def _indenting(text: Any, width: Any = 4, *_: Any, **__: Any) -> float:
    text = str(text)
    return len(text) + (text.count("\n") + 1) * _number(width)


def _wrapping(text: Any, width: Any = 79, break_long_words: Any = True,
              wrapstring: Any = None, *_: Any, **__: Any) -> float:
    return len(str(text)) * (1 + len(str(wrapstring or "\n")) / max(int(width), 1))


# filter name -> the length of what it would make, from (value, *args, **kwargs)
FILTER_ESTIMATES: dict[str, Callable[..., float]] = {
    "center": lambda v, width=80: max(len(str(v)), int(width)),
    "indent": _indenting,
    "wordwrap": _wrapping,
    "batch": lambda v, linecount, *_: len(v) + int(linecount),
    "slice": lambda v, slices, *_: len(v) + int(slices),
    "join": lambda v, d="", *_, **__: _joining(v, d),
    "replace": _replacing,
    "format": lambda v, *_, **__: len(str(v)) + _percent_widths(str(v)),
}

# str method name -> the same, from (the string, *args)
STR_METHOD_ESTIMATES: dict[str, Callable[..., float]] = {
    "center": lambda s, width, *_: max(len(s), int(width)),
    "ljust": lambda s, width, *_: max(len(s), int(width)),
    "rjust": lambda s, width, *_: max(len(s), int(width)),
    "zfill": lambda s, width: max(len(s), int(width)),
    "expandtabs": lambda s, tabsize=8: len(s) + s.count("\t") * int(tabsize),
    "replace": _replacing,
    "join": lambda s, items: _joining(items, s),
    "format": lambda s, *_, **__: len(s) + _format_widths(s),
    "format_map": lambda s, *_: len(s) + _format_widths(s),
}


def _estimated(estimate: Callable[..., float], what: str, *args: Any, **kwargs: Any) -> None:
    """Refuse the call when ``estimate`` says it makes too much; arguments it cannot read are
    left for the call itself to refuse."""
    try:
        length = estimate(*args, **kwargs)
    except (TypeError, ValueError, OverflowError):
        return
    _refuse_longer(length, what)


def _listed(value: Any) -> Any:
    """A one-pass iterable (``map``, a generator) as a list, so that it can be measured."""
    return value if isinstance(value, Sized) or not isinstance(value, Iterable) else list(value)


def _str_method(obj: Any) -> tuple[str, str] | None:
    """(the string, the method's name) when ``obj`` is a bound ``str`` method (or the
    sandbox's wrapper of ``str.format``)."""
    target = getattr(obj, "__wrapped__", obj)
    owner, name = getattr(target, "__self__", None), getattr(target, "__name__", "")
    return (owner, name) if isinstance(owner, str) else None


def _check_str_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple:
    """The call's arguments (a one-pass iterable listed); refused if it makes too much."""
    method = _str_method(obj)
    if method is None or method[1] not in STR_METHOD_ESTIMATES:
        return args
    text, name = method
    args = tuple(_listed(a) for a in args)
    _estimated(STR_METHOD_ESTIMATES[name], f"str.{name}()", text, *args, **kwargs)
    return args


def bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter ``func``, costing a step, refused when its estimated result is too long."""
    estimate = FILTER_ESTIMATES.get(name)
    passes_first = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _charge()
        head, rest = (args[:1], args[1:]) if passes_first else ((), args)
        if estimate is not None and rest:
            rest = (_listed(rest[0]), *rest[1:])
            _estimated(estimate, f"the {name!r} filter", *rest, **kwargs)
        return _bounded(func(*head, *rest, **kwargs), f"the {name!r} filter")
    return bounded


# --- loops and concatenation, metered through two filters ------------------------------------

def metered(iterable: Any) -> Iterator[Any]:
    """A loop's items, a step each."""
    for item in iterable:
        _charge()
        yield item


@pass_eval_context
def concatenated(eval_ctx: Any, parts: list[Any]) -> str:
    """``a ~ b``, as Jinja joins it, held to ``MAX_LENGTH``."""
    _charge()
    joined = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
    return _bounded(joined, "'~'")


class _Meter(NodeTransformer):
    """Rewrites a parsed template so that loops and ``~`` go through the metering filters."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        node = self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, CONCAT_FILTER, [], [], None, None, lineno=node.lineno)


def bounded_range(*args: Any) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateTooCostly(f"range() gives at most {MAX_RANGE:,} numbers")
    return numbers


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _refuse_longer(int(n) * int(max) * 12, "lipsum()")
    return generate_lorem_ipsum(n, html, min, max)


# --- the environment --------------------------------------------------------------------------

class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the bounds described in the module docstring."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.globals.update(range=bounded_range, lipsum=bounded_lipsum)
        self.filters = {name: bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters.update({LOOP_FILTER: metered, CONCAT_FILTER: concatenated})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Meter().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        _charge()
        _check_operands(op, left, right)
        return _bounded(self.binop_table[op](left, right), repr(op))

    def call_unop(self, context: Any, op: str, arg: Any) -> Any:
        _charge()
        _check_operands(op, arg, 0)
        return self.unop_table[op](arg)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _charge()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _charge()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _charge()
        args = _check_str_call(__obj, args, kwargs)
        return _bounded(super().call(__context, __obj, *args, **kwargs), "a call")

