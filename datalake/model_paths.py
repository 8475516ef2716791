"""Walking a pydantic model along an error's location: which model a key path lands in.

The settings and the domain file both report an unknown key with the keys allowed at its place.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (itself, or inside ``list[...]``, ``X | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model reached by following ``loc``'s keys from ``root`` (list indexes skipped), or
    ``None`` where the path leaves the models (an unknown key, a plain value)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        field = model.model_fields.get(str(part))
        model = model_in(field.annotation) if field is not None else None
    return model
