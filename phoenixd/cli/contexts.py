"""Named contexts (like kubeconfig's, or etcdctl's environment): where and how to reach a phoenixd.

The file is ``$PHOENIX_CONFIG``, else ``$XDG_CONFIG_HOME/phoenix/config.yaml``, else
``~/.config/phoenix/config.yaml``::

    current-context: local
    contexts:
      local: {endpoint: 127.0.0.1:7400}
      prod: {endpoint: phoenix.example:7400, token: ..., ca: prod-ca.pem}

Each connection setting is taken from, in order: its flag (``--endpoint``), its environment
variable (``PHOENIX_ENDPOINT``), the context (``--context NAME``, else the current one), then
the default. Relative ca/cert/key paths are relative to the file, as kubeconfig's are. The
file holds tokens, so it is written readable by its owner alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["FIELDS", "ConfigFile", "config_path", "connection_settings"]

FIELDS = ("endpoint", "token", "ca", "cert", "key")
_PATHS = frozenset({"ca", "cert", "key"})


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("PHOENIX_CONFIG"):
        return Path(env["PHOENIX_CONFIG"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else (
        Path(env.get("HOME") or Path.home()) / ".config")
    return base / "phoenix" / "config.yaml"


@dataclass
class ConfigFile:
    """The contexts file as read (absent: no contexts, none current)."""

    path: Path
    current: str | None = None
    contexts: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        if not path.exists():
            return cls(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a mapping with current-context and contexts")
        contexts = raw.get("contexts") or {}
        if not isinstance(contexts, dict):
            raise ValueError(f"{path}: contexts must map names to settings")
        for name, settings in contexts.items():
            unknown = set(settings or {}) - set(FIELDS) if isinstance(settings, dict) else {"?"}
            if unknown:
                raise ValueError(f"{path}: context {name!r}: settings are "
                                 f"{', '.join(FIELDS)} (not {', '.join(sorted(unknown))})")
        current = raw.get("current-context")
        return cls(path, str(current) if current else None,
                   {str(n): {k: str(v) for k, v in (s or {}).items()} for n, s in contexts.items()})

    def save(self) -> None:
        """Write the file readable by its owner alone (it may hold tokens), atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data: dict[str, object] = {"current-context": self.current, "contexts": self.contexts}
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(data, out, sort_keys=False, default_flow_style=False)
        os.replace(tmp, self.path)

    def context(self, name: str) -> dict[str, str]:
        if name not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none yet"
            raise ValueError(f"no context {name!r} in {self.path} (contexts: {known}; "
                             "phoenix config set-context NAME --endpoint HOST:PORT adds one)")
        return self.contexts[name]


def connection_settings(flags: Mapping[str, str | None], context: str | None,
                        env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Each setting by precedence: flag, then PHOENIX_<NAME>, then the context, then None
    (the SDK's default). ``context``: --context's value; None means the current one."""
    env = os.environ if env is None else env
    config = ConfigFile.load(config_path(env))
    name = context or config.current
    chosen = config.context(name) if name else {}
    settings: dict[str, str | None] = {}
    for key in FIELDS:
        value = flags.get(key) or env.get(f"PHOENIX_{key.upper()}")
        if not value and chosen.get(key):
            value = chosen[key]
            if key in _PATHS:  # relative to the file (an absolute path stays as it is)
                value = str(config.path.parent / Path(value).expanduser())
        settings[key] = value or None
    return settings
