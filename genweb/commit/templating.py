"""The Jinja environment every engine template uses: strict, no HTML escaping, stable output."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def environment(package: str, folder: str = "templates") -> Environment:
    env = Environment(
        loader=PackageLoader(package, folder),
        undefined=StrictUndefined,  # a missing value is a bug, never an empty string
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_template(package: str, name: str, **context) -> str:
    return environment(package).get_template(name).render(**context)
