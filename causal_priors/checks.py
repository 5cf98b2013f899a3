"""Value checks for the config dataclasses' ``__post_init__`` and the commands' up-front checks.

A dataclass states its constraints once, next to its fields::

    def __post_init__(self) -> None:
        validate(self, gamma=in_range(0, 1, low_open=True), batch_size=POSITIVE, method=one_of("a", "b"))

:func:`validate` also refuses every float field that is not finite in float32 (``1e300`` would overflow
inside torch), so no rule has to repeat that. ``None`` (an optional field left unset) passes every rule.
A failed check raises :class:`InvalidValue`, which names the field; ``causal_priors.config.to_typed``
prefixes the full dotted key (``agent.causal.rho``) when it converts a merged config.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from causal_priors.errors import ConfigError

#: largest finite float32: a float config value above it becomes inf (then NaN) inside torch
FLOAT32_MAX = 3.4028234663852886e38


class InvalidValue(ConfigError):
    """A config field holds a value outside its allowed set; ``key`` is the field's (dotted) name."""

    def __init__(self, key: str, expected: str, value: Any) -> None:
        self.key, self.expected, self.value = key, expected, value
        super().__init__(f"config key '{key}': expected {expected}, got {value!r}")

    def __reduce__(self) -> tuple[type, tuple[str, str, Any]]:  # picklable across processes (Ray, pools)
        return InvalidValue, (self.key, self.expected, self.value)

    def with_prefix(self, prefix: str) -> InvalidValue:
        """The same error for the key as seen from an enclosing config (``prefix`` ends with a dot)."""
        return InvalidValue(prefix + self.key, self.expected, self.value)


@dataclass(frozen=True)
class Rule:
    """One constraint: ``ok(value)`` is true for allowed values; ``expected`` says which those are."""

    expected: str
    ok: Callable[[Any], bool]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def in_range(low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False) -> Rule:
    """A number in ``[low, high]`` (``(`` / ``)`` with ``low_open`` / ``high_open``)."""
    left, right = "(" if low_open else "[", ")" if high_open or math.isinf(high) else "]"

    def ok(v: Any) -> bool:
        if not _number(v) or not math.isfinite(v):
            return False
        above = v > low if low_open else v >= low
        below = v < high if high_open else v <= high
        return above and below

    if math.isinf(high):
        words = f"a number > {low:g}" if low_open else f"a number >= {low:g}"
        return Rule(words, ok)
    return Rule(f"a number in {left}{low:g}, {high:g}{right}", ok)


POSITIVE = in_range(0, low_open=True)
NON_NEGATIVE = in_range(0)
PROBABILITY = in_range(0, 1)
#: an optimiser step size: Adam with a rate above 1 diverges at once
LEARNING_RATE = in_range(0, 1, low_open=True)
#: numpy and torch seeds are unsigned 32-bit integers
SEED = Rule("an integer in [0, 2**32)", lambda v: _number(v) and 0 <= v < 2**32 and int(v) == v)


def one_of(*choices: str) -> Rule:
    """One of the given names."""
    return Rule(f"one of {list(choices)}", lambda v: v in choices)


def each(rule: Rule, *, nonempty: bool = False) -> Rule:
    """A list whose every element passes ``rule`` (and, with ``nonempty``, at least one element)."""
    words = f"a {'non-empty ' if nonempty else ''}list of elements each {rule.expected}"
    return Rule(words, lambda v: (not nonempty or len(v) > 0) and all(rule.ok(x) for x in v))


def matches(pattern: str, expected: str) -> Rule:
    """A string matching the regular expression ``pattern`` as a whole."""
    compiled = re.compile(pattern)
    return Rule(expected, lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None)


NON_EMPTY = Rule("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")


def validate(obj: Any, **rules: Rule) -> None:
    """Check a dataclass instance: every float field finite in float32, then each named field's rule.

    Raises:
        InvalidValue: the first field that fails, named by its field name.
    """
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
            raise InvalidValue(f.name, "a finite number (float32 range)", value)
    for name, rule in rules.items():
        value = getattr(obj, name)
        if value is not None and not rule.ok(value):
            raise InvalidValue(name, rule.expected, value)


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: str | Path, key: str) -> None:
    """Refuse early a folder the command could not write into (``key`` names the config key or argument).

    The folder itself need not exist: its nearest existing ancestor must be a folder in which a file can
    be created (probed with a temporary file, so read-only mounts and root-owned folders are caught too).

    Raises:
        ConfigError: one line naming ``key``, the folder and the reason.
    """
    folder = _nearest_existing(Path(path))
    if not folder.is_dir():
        raise ConfigError(f"{key}={path}: {folder} exists and is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ConfigError(f"{key}={path}: cannot write in {folder} ({err.strerror or err})") from None
    if not os.access(folder, os.W_OK | os.X_OK):  # pragma: no cover - the probe above already failed
        raise ConfigError(f"{key}={path}: no write permission on {folder}")
