"""Deploy: bake a registry version into a BentoML bento, and serve it.

Importing this package connects to nothing and imports BentoML only when a function runs.
"""

from tasks.deploy.build import BuiltBento, build_bento, find_bento
from tasks.deploy.serve import champion_version, serve_command, serve_env

__all__ = [
    "BuiltBento",
    "build_bento",
    "champion_version",
    "find_bento",
    "serve_command",
    "serve_env",
]
