"""params.yaml's building blocks, a leaf: reading it, merging and hashing mappings, the one error
type for a bad setting (``ParamError``), the one check of a mapping's keys (``check_keys``) and the
validators a schema is written with.

The study's schema (one entry per group of ``params.yaml``) and the cross-checks between groups
live above the trainers, in :mod:`arsr.study.schema`; everything here imports no other part of
``arsr`` but ``paths`` and ``mapping``, so any module may use it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .mapping import merged  # noqa: F401 (re-exported: params.yaml's merge)
from .params_file import ParamError, load_params, params_hash  # noqa: F401
from .paths import resolve


# --------------------------------------------------------------------------------------------
# Keys: every "unknown key" error of the study (params.yaml, trainer configs, dataset and flow
# options) is this one, so each names where, which keys and what is allowed the same way.


def check_keys(given: Iterable, allowed: Iterable, where: str, *, prefix: str = "", what: str = "key",
               allowed_as: str | None = None) -> None:
    """Raise ``ParamError`` if ``given`` holds a key not in ``allowed``:
    ``"<where>: unknown <what>(s) <prefix>.<key>, ...; allowed <what>s of <prefix>: <allowed>"``
    (``allowed`` in the order given; ``allowed_as`` replaces "allowed <what>s of <prefix>")."""
    allowed = list(allowed)
    unknown = sorted(set(given) - set(allowed), key=str)
    if unknown:
        names = ", ".join(f"{prefix}.{k}" if prefix else str(k) for k in unknown)
        label = allowed_as or f"allowed {what}s" + (f" of {prefix}" if prefix else "")
        raise ParamError(f"{where}: unknown {what}(s) {names}; {label}: {', '.join(map(str, allowed))}")


# --------------------------------------------------------------------------------------------
# Validators: each takes (value, key) and returns the normalised value or raises ParamError.

Validator = Callable[[Any, str], Any]


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ParamError(f"params: {key} = {value!r} is not allowed; expected {allowed}")


def choice(*options: Any) -> Validator:
    def check(value, key):
        if value not in options:
            _fail(key, value, "one of " + ", ".join(map(str, options)))
        return value
    return check


def integer(min: int | None = 0, max: int | None = None) -> Validator:
    def check(value, key):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(key, value, "an integer" + _range(min, max))
        if (min is not None and value < min) or (max is not None and value > max):
            _fail(key, value, "an integer" + _range(min, max))
        return value
    return check


def number(min: float | None = None, max: float | None = None, *, open_min: bool = False) -> Validator:
    def check(value, key):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(key, value, "a number" + _range(min, max, open_min))
        if min is not None and (value <= min if open_min else value < min):
            _fail(key, value, "a number" + _range(min, max, open_min))
        if max is not None and value > max:
            _fail(key, value, "a number" + _range(min, max, open_min))
        return float(value)
    return check


def boolean() -> Validator:
    def check(value, key):
        if not isinstance(value, bool):
            _fail(key, value, "true or false")
        return value
    return check


def string() -> Validator:
    def check(value, key):
        if not isinstance(value, str) or not value:
            _fail(key, value, "a non-empty string")
        return value
    return check


def path(must_exist: bool = False) -> Validator:
    """A path, relative to the study root unless absolute; optionally required to exist."""
    def check(value, key):
        if not isinstance(value, str) or not value:
            _fail(key, value, "a path (string)")
        if must_exist and not resolve(value).exists():
            raise ParamError(
                f"params: {key} = {value!r}: {resolve(value)} does not exist; "
                "point it at an existing folder or file"
            )
        return value
    return check


def optional(inner: Validator) -> Validator:
    def check(value, key):
        return None if value is None else inner(value, key)
    return check


def list_of(inner: Validator, length: int | None = None, min_length: int = 0) -> Validator:
    def check(value, key):
        if not isinstance(value, list) or (length is not None and len(value) != length) \
                or len(value) < min_length:
            n = f"{length} " if length is not None else ""
            _fail(key, value, f"a list of {n}items")
        return [inner(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return check


def free_dict() -> Validator:
    """A mapping validated elsewhere (e.g. by the dataclass that consumes it)."""
    def check(value, key):
        if not isinstance(value, dict):
            _fail(key, value, "a mapping")
        return value
    return check


def _range(lo, hi, open_lo: bool = False) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if open_lo else '>='} {lo}"
    if lo is None:
        return f" <= {hi}"
    return f" in [{lo}, {hi}]"
