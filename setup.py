"""The one thing pyproject.toml cannot say: templates/ and static/ stay at the top level of the
checkout (the product card's layout) but ship inside the wheel as pops/templates and pops/static,
beside the code that loads them (with the migrations)."""
from pathlib import Path

from setuptools import find_packages, setup

DATA_DIRS = {"templates": "pops.templates", "static": "pops.static"}


def data_packages() -> dict[str, str]:
    """Every folder under templates/ and static/ as the package it becomes in the wheel."""
    found = {}
    for folder, package in DATA_DIRS.items():
        for path in [Path(folder), *sorted(p for p in Path(folder).rglob("*") if p.is_dir())]:
            name = ".".join([package, *path.relative_to(folder).parts])
            found[name] = path.as_posix()
    return found


setup(
    packages=[*find_packages(include=["pops", "pops.*"]), *data_packages()],
    package_dir=data_packages(),
)
