"""The `models:/` URI grammar, as MLflow's registry defines it, written once.

`models:/<name>/<version>` pins a registered version; `models:/<name>@<alias>` follows an
alias. Names may hold anything but `/`, `@` and whitespace; aliases are word characters and
hyphens, at most 255 long, and never MLflow's reserved `latest` or `v<digits>` (which MLflow
itself answers with INVALID_PARAMETER_VALUE). The chart is stricter about aliases than this
(they also name Kubernetes objects); its schema says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEME = "models:/"
MAX_ALIAS_LENGTH = 255
_URI = re.compile(r"models:/(?P<name>[^/@\s]+)(?:@(?P<alias>[\w-]+)|/(?P<version>[1-9]\d*))")
_RESERVED_ALIAS = re.compile(r"latest|[vV]\d+", re.IGNORECASE)


class ModelUriError(ValueError):
    pass


@dataclass(frozen=True)
class ModelUri:
    name: str
    alias: str | None = None
    version: str | None = None
    """Exactly one of alias and version is set."""

    def __str__(self) -> str:
        return f"{SCHEME}{self.name}@{self.alias}" if self.alias else f"{SCHEME}{self.name}/{self.version}"


def is_models_uri(uri: str) -> bool:
    return uri.startswith(SCHEME)


def parse_model_uri(uri: str) -> ModelUri:
    """Raises ModelUriError naming what is wrong with the URI."""
    m = _URI.fullmatch(uri)
    if not m:
        raise ModelUriError(f"model URI {uri!r} is neither models:/<name>@<alias> nor models:/<name>/<version> "
                            "(version an integer >= 1; alias word characters and hyphens)")
    alias = m["alias"]
    if alias is not None:
        if _RESERVED_ALIAS.fullmatch(alias):
            raise ModelUriError(f"model URI {uri!r}: alias {alias!r} is reserved by MLflow (latest, v<number>)")
        if len(alias) > MAX_ALIAS_LENGTH:
            raise ModelUriError(f"model URI {uri!r}: alias longer than {MAX_ALIAS_LENGTH} characters")
    return ModelUri(name=m["name"], alias=alias, version=m["version"])
