"""What the settings objects (exchange.settings.ExchangeSettings, api.config.ApiSettings) share:
list settings written as a comma list or a JSON list, and settings errors told in one line each.

    load_settings(ApiSettings, "capex")   # the settings, or one line per bad variable on stderr
                                          # ("capex: API_PORT: expected an integer, got 'abc'")
                                          # and SystemExit(2): never a traceback
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
import typing
from typing import Annotated, Any, TypeVar

import annotated_types
from pydantic import BeforeValidator, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsError

S = TypeVar("S", bound=BaseSettings)

LIST_FORMAT = "a comma-separated list (or a JSON list of strings)"


def split_list(value: Any) -> Any:
    """`a,b` or `["a", "b"]` (an environment variable) -> ["a", "b"]; blanks around items are
    dropped, and so are empty items (`""` is the empty list). Anything else is left to the type."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"expected {LIST_FORMAT}, got {value!r} (not valid JSON)") from None
    return [item.strip() for item in text.split(",") if item.strip()]


# A list setting: NoDecode keeps pydantic-settings from json-decoding the variable itself (a comma
# list would then be a SettingsError); split_list reads both forms.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(split_list)]


# -- ERRORS IN ONE LINE -------------------------------------------------------------------------


def env_name(settings_cls: type[BaseSettings], field_name: str) -> str:
    """The environment variable a field is read from (of several aliases: the one that is set)."""
    field = settings_cls.model_fields.get(field_name)
    alias = field.validation_alias if field is not None else None
    choices: list[str] = []
    if isinstance(alias, str):
        choices = [alias]
    elif alias is not None and hasattr(alias, "choices"):
        choices = [c for c in alias.choices if isinstance(c, str)]
    if choices:
        present = {key.upper() for key in os.environ}
        return next((c.upper() for c in choices if c.upper() in present), choices[0].upper())
    prefix = settings_cls.model_config.get("env_prefix", "")
    return f"{prefix}{field_name}".upper()


def _base_type(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(the annotation without Optional and Annotated, whether None is allowed, the metadata of
    the Annotated layers taken off)."""
    optional = False
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return annotation, optional, metadata
            annotation = args[0]
        else:
            return annotation, optional, metadata


def _constraints(field: FieldInfo) -> list[str]:
    words = []
    for item in field.metadata:
        for name, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, name, None)
            if bound is not None and isinstance(item, annotated_types.BaseMetadata):
                words.append(f"{sign} {bound}")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            alternatives = re.fullmatch(r"\^\(([\w|.-]+)\)\$", pattern)
            words.append(
                "one of " + ", ".join(alternatives.group(1).split("|"))
                if alternatives
                else f"matching {pattern}"
            )
    return words


def expected_format(field: FieldInfo) -> str:
    """What a field's variable must hold, in words ("an integer >= 1", "true or false")."""
    annotation, optional, metadata = _base_type(field.annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        text = "true or false (also 1/0, yes/no, on/off)"
    elif annotation is int:
        text = "an integer"
    elif annotation is float:
        text = "a number"
    elif origin is typing.Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(annotation))
    elif origin in (list, tuple, set, frozenset):
        text = LIST_FORMAT if NoDecode in field.metadata or NoDecode in metadata else "a JSON list"
    elif origin is dict:
        text = "a JSON object"
    else:
        text = "a string"
    constraints = _constraints(field)
    if constraints:
        joined = " and ".join(constraints)
        text = joined if text == "a string" else f"{text} {joined}"
    return f"{text}, or unset" if optional and field.default is None else text


def describe_settings_error(exc: Exception, settings_cls: type[BaseSettings]) -> list[str]:
    """One line per bad variable: `VAR: expected <format>, got <value>`."""
    fields = settings_cls.model_fields
    lines: list[str] = []
    if isinstance(exc, ValidationError):
        seen: set[str] = set()
        for error in exc.errors():
            if not error.get("loc") and error["type"] == "value_error":
                # a check of several settings together: its message names them
                message = str(error.get("ctx", {}).get("error") or error["msg"])
                lines.append(message.removeprefix("Value error, "))
                continue
            loc = error.get("loc") or ("?",)
            name = str(loc[0])
            if name in seen:
                continue
            seen.add(name)
            variable = env_name(settings_cls, name)
            field = fields.get(name)
            if error["type"] == "value_error":  # our validators say what they expected
                message = str(error.get("ctx", {}).get("error") or error["msg"]).removeprefix("Value error, ")
                lines.append(f"{variable}: {message.removeprefix(f'{variable}: ')}")
            elif field is not None:
                got = "(hidden)" if "Secret" in repr(field.annotation) else repr(error.get("input"))
                lines.append(f"{variable}: expected {expected_format(field)}, got {got}")
            else:
                lines.append(f"{variable}: {error['msg']}")
        return lines
    match = re.search(r'field "(\w+)"', str(exc))
    if isinstance(exc, SettingsError) and match and match.group(1) in fields:
        name = match.group(1)
        variable = env_name(settings_cls, name)
        value = next((v for k, v in os.environ.items() if k.upper() == variable), None)
        return [f"{variable}: expected {expected_format(fields[name])}, got {value!r}"]
    return [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]


def load_settings(settings_cls: type[S], prog: str, **values: Any) -> S:
    """The settings from the environment; a bad variable ends the process with status 2 and one
    line per bad variable on stderr (no traceback)."""
    try:
        return settings_cls(**values)
    except (ValidationError, SettingsError) as exc:
        for line in describe_settings_error(exc, settings_cls):
            print(f"{prog}: {line}", file=sys.stderr)
        raise SystemExit(2) from None
