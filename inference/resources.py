"""Files that ship inside the package: the label schemas and run configs of the repository's
``configs/`` folder, installed as ``rasd.configs``.

A path such as ``configs/schema/conflict.yaml`` (every default that names a schema or config)
then works from any directory: it is used as given when it exists there, else the packaged file
of the same relative name is read, so ``pip install rasd`` gives a ``rasd validate`` that works.
"""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import PurePosixPath

__all__ = ["PACKAGED_FOLDER", "resolve_path"]

PACKAGED_FOLDER = "configs"  # the repository folder installed as the package ``rasd.configs``


def resolve_path(path: str | os.PathLike) -> str:
    """``path`` itself when it exists or is not under ``configs/``; else the packaged copy of it.

    A name that is neither here nor packaged comes back unchanged, so opening it raises the
    ordinary ``FileNotFoundError`` naming what the caller wrote.
    """
    given = os.fspath(path)
    if os.path.exists(given) or os.path.isabs(given):
        return given
    parts = PurePosixPath(given.replace(os.sep, "/")).parts
    if len(parts) < 2 or parts[0] != PACKAGED_FOLDER:
        return given
    try:
        packaged = files(f"rasd.{PACKAGED_FOLDER}")
    except ModuleNotFoundError:  # a source tree used without installing
        return given
    for part in parts[1:]:
        packaged = packaged / part
    return str(packaged) if packaged.is_file() else given
