"""The catalogue of layer specs, looked up by type id (or an old alias of it)."""
from __future__ import annotations

from .base import LayerSpec

_SPECS: dict[str, LayerSpec] = {}
_ALIASES: dict[str, str] = {}
# specs the editor makes itself (a block instance and its ports), never offered in the palette
_UNLISTED: set[str] = set()


def register(cls: type[LayerSpec]) -> type[LayerSpec]:
    """Class decorator adding a spec to the catalogue; type ids and aliases must be unique."""
    for key in (cls.type_id, *cls.aliases):
        if key in _SPECS or key in _ALIASES:
            raise ValueError(f"layer type id {key!r} registered twice")
    _SPECS[cls.type_id] = cls()
    _ALIASES.update({alias: cls.type_id for alias in cls.aliases})
    return cls


def register_unlisted(cls: type[LayerSpec]) -> type[LayerSpec]:
    """Like `register`, for a spec that the palette does not offer (blocks make these nodes)."""
    register(cls)
    _UNLISTED.add(cls.type_id)
    return cls


def get_spec(type_id: str) -> LayerSpec:
    """The spec for `type_id` or one of its aliases; KeyError if unknown."""
    return _SPECS[_ALIASES.get(type_id, type_id)]


def canonical_type(type_id: str) -> str | None:
    key = _ALIASES.get(type_id, type_id)
    return key if key in _SPECS else None


def all_specs() -> list[LayerSpec]:
    """Every registered spec, in catalogue order (the palette shows them this way)."""
    return [spec for type_id, spec in _SPECS.items() if type_id not in _UNLISTED]
