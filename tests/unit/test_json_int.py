"""Every integer of every request body is a JSON Schema integer (core.types.JsonInt): 3 and 3.0 in,
3.5, `true` and "3" out. pydantic's lax int takes booleans and digit strings, StrictInt refuses 3.0
(which the published schema allows, so a schema-driven client may send it)."""

from __future__ import annotations

import importlib
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

ROOT = Path(__file__).resolve().parents[2]
REQUEST_SUFFIXES = ("In", "Patch")


def _request_models() -> list[type[BaseModel]]:
    models = []
    functions = ROOT / "functions"
    paths = sorted([*functions.glob("*/schemas.py"), *functions.glob("*/schemas/*.py")])  # a module or a package
    for path in paths:
        dotted = ".".join(path.relative_to(functions).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(dotted)
        models += [
            value
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == module.__name__
            and name.endswith(REQUEST_SUFFIXES)
        ]
    return models


def _is_int(annotation: typing.Any) -> bool:
    return annotation is int or (typing.get_origin(annotation) is typing.Annotated and _is_int(annotation.__origin__))


def _int_fields() -> list[tuple[str, TypeAdapter[typing.Any]]]:
    found = []
    for model in _request_models():
        for name, field in model.model_fields.items():
            annotation = field.annotation
            union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
            args = typing.get_args(annotation) if union else (annotation,)
            if any(_is_int(a) for a in args):
                typed = typing.Annotated[annotation, *field.metadata] if field.metadata else annotation  # type: ignore[valid-type]
                adapter: TypeAdapter[typing.Any] = TypeAdapter(typed)
                found.append((f"{model.__module__}.{model.__name__}.{name}", adapter))
    return found


FIELDS = _int_fields()


def _accepts(adapter: TypeAdapter[typing.Any], value: int) -> bool:
    try:
        return bool(adapter.validate_python(value) == value)
    except ValidationError:
        return False


def test_the_check_sees_the_request_integers() -> None:
    names = {name for name, _ in FIELDS}
    assert {"rooms.schemas.ReadIn.seq", "rooms.schemas.forks.ForkIn.up_to_seq"} <= names
    assert {"assets.schemas.sharing.ShareIn.max_downloads", "rooms.schemas.images.RoomImageIn.size"} <= names
    assert {"assets.schemas.spaces.SpacePatch.quota_bytes", "posts.schemas.UploadUrlIn.size"} <= names


@pytest.mark.parametrize(("name", "adapter"), FIELDS, ids=[name for name, _ in FIELDS])
def test_a_request_integer_is_a_json_schema_integer(name: str, adapter: TypeAdapter[typing.Any]) -> None:
    valid = next(n for n in (3, 60, 1000, 100_000) if _accepts(adapter, n))  # within the field's bounds
    assert adapter.validate_python(float(valid)) == valid
    for wrong in (True, False, str(valid), valid + 0.5):
        with pytest.raises(ValidationError):
            adapter.validate_python(wrong)
