"""Deploy: bake a registry version into a BentoML bento, and serve it.

Importing this package imports neither BentoML nor MLflow's registry client until a function runs.
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
