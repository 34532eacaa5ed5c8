"""nginx: the real binary, run unprivileged in a private prefix from the team's config.

The team's nginx.conf is parsed with crossplane (the nginx config parser) and rendered
again for the run: upstream servers and listen addresses mapped onto this machine's
loopback endpoints, every path (pid, logs, temp folders, includes, html/) pointed into
the run folder, and an access log that names the backend of every request.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crossplane

from labcheck.errors import ConfigError, NginxConfigError, NginxNotFound
from labcheck.network import Endpoint, Network

Directive = dict[str, Any]

# Paths nginx would otherwise take from its build (Debian: /var/lib/nginx, /var/log/nginx).
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_DROPPED = {"daemon", "pid", "user", "error_log", "access_log", "lock_file", "load_module"} | {
    f"{kind}_temp_path" for kind in _TEMP_PATHS
}
_STOCK_HTML = {
    "index.html": "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>\n",
    "50x.html": "<!DOCTYPE html><html><body><h1>An error occurred.</h1></body></html>\n",
}
_ACCESS_FORMAT = '$msec "$request" $status upstream=$upstream_addr upstream_status=$upstream_status'


def binary() -> str:
    """The nginx executable: $LABCHECK_NGINX, then PATH, then Debian's /usr/sbin."""
    wanted = os.environ.get("LABCHECK_NGINX")
    if wanted:
        if shutil.which(wanted):
            return wanted
        raise NginxNotFound(f"LABCHECK_NGINX={wanted}")
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise NginxNotFound("ni dans le PATH ni dans /usr/sbin")
    return found


@functools.cache
def version(executable: str) -> str:
    out = subprocess.run([executable, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
    return match.group(1) if match else "inconnue"


@dataclass(frozen=True)
class Upstream:
    name: str
    method: str
    zone: bool
    servers: tuple[tuple[str, tuple[str, ...]], ...]  # (address, parameters)


@dataclass(frozen=True)
class Facts:
    """What the team's nginx.conf says, as far as the checks care."""

    worker_processes: str = "1"
    upstreams: tuple[Upstream, ...] = ()
    proxy_pass: tuple[str, ...] = ()
    proxy_next_upstream: tuple[str, ...] = ("error", "timeout")
    listens: tuple[str, ...] = ()

    @property
    def upstream(self) -> Upstream | None:
        """The upstream that proxy_pass uses (the first one otherwise)."""
        used = {re.sub(r"^https?://", "", p).split("/")[0] for p in self.proxy_pass}
        for upstream in self.upstreams:
            if upstream.name in used:
                return upstream
        return self.upstreams[0] if self.upstreams else None


def parse(source: Path) -> list[Directive]:
    """The directives of a team's nginx.conf; syntax errors name the team's line."""
    payload = crossplane.parse(str(source), single=True, check_ctx=False, comments=False)
    if payload["errors"]:
        error = payload["errors"][0]
        raise ConfigError(str(source), f"ligne {error.get('line') or '?'}", _french(error["error"]))
    directives: list[Directive] = payload["config"][0]["parsed"]
    return directives


def _french(message: str) -> str:
    detail = re.sub(r" in /\S+:\d+$", "", message)
    return f"erreur de syntaxe nginx ({detail}) : corrigez cette ligne puis relancez"


def facts(directives: list[Directive]) -> Facts:
    found: dict[str, Any] = {"upstreams": [], "proxy_pass": [], "listens": []}
    for d in _walk(directives):
        name = d["directive"]
        if name == "worker_processes" and d["args"]:
            found["worker_processes"] = d["args"][0]
        elif name == "upstream":
            found["upstreams"].append(_upstream(d))
        elif name == "proxy_pass":
            found["proxy_pass"].append(d["args"][0])
        elif name == "proxy_next_upstream":
            found["proxy_next_upstream"] = tuple(d["args"])
        elif name == "listen":
            found["listens"].append(d["args"][0])
    return Facts(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in found.items()}  # type: ignore[arg-type]
    )


def _upstream(block: Directive) -> Upstream:
    method, zone, servers = "round-robin", False, []
    for d in block.get("block", []):
        if d["directive"] in ("ip_hash", "hash", "least_conn", "random", "least_time"):
            method = d["directive"]
        elif d["directive"] == "zone":
            zone = True
        elif d["directive"] == "server":
            servers.append((d["args"][0], tuple(d["args"][1:])))
    return Upstream(block["args"][0] if block["args"] else "?", method, zone, tuple(servers))


def _walk(directives: list[Directive]) -> list[Directive]:
    out = []
    for d in directives:
        out.append(d)
        out.extend(_walk(d.get("block", [])))
    return out


def split_address(address: str, default_port: int = 80) -> tuple[str, int] | None:
    """'172.20.10.2:3000' -> ('172.20.10.2', 3000); '8181' -> ('', 8181); unix: -> None."""
    if address.startswith("unix:"):
        return None
    if address.isdigit():
        return "", int(address)
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return address.strip("[]"), default_port


class RunConfig:
    """The team's config rendered into a private run folder (``nginx -p RUNDIR``)."""

    def __init__(self, source: Path, rundir: Path, network: Network) -> None:
        self.source, self.rundir, self.network = source, rundir, network
        self.directives = parse(source)
        self.facts = facts(self.directives)
        self.path = rundir / "conf" / "nginx.conf"
        self.error_log = rundir / "logs" / "error.log"
        self.access_log = rundir / "logs" / "access.log"

    def write(self) -> Path:
        for sub in ("conf", "logs", "html", "temp"):
            (self.rundir / sub).mkdir(parents=True, exist_ok=True)
        for name, text in _STOCK_HTML.items():
            (self.rundir / "html" / name).write_text(text, encoding="utf-8")
        rendered = self._render([_copy(d) for d in self.directives])
        self.path.write_text(crossplane.build(rendered) + "\n", encoding="utf-8")
        return self.path

    def addresses(self) -> list[Endpoint]:
        """Every address the rendered config listens on or connects to."""
        found = []
        for d in _walk(crossplane.parse(str(self.path), single=True)["config"][0]["parsed"]):
            if d["directive"] in ("listen", "server") and d["args"] and d.get("block") is None:
                parts = split_address(d["args"][0])
                if parts:
                    found.append(Endpoint(*parts))
        return found

    def _render(self, directives: list[Directive]) -> list[Directive]:
        if not any(d["directive"] == "http" for d in directives):
            # A conf.d snippet (upstream and server blocks only): give it its frame.
            directives = [_block("http", directives)]
        if not any(d["directive"] == "events" for d in directives):
            directives.insert(0, _block("events", []))
        main = [
            _directive("pid", str(self.rundir / "nginx.pid")),
            _directive("error_log", str(self.error_log)),
        ]
        return main + [self._rewrite(d) for d in directives if d["directive"] not in _DROPPED]

    def _rewrite(self, d: Directive) -> Directive:
        name, args = d["directive"], d["args"]
        if name == "server" and "block" not in d and args:  # an upstream entry
            d["args"] = [self._upstream_address(args[0]), *args[1:]]
        elif name == "listen" and args:
            d["args"] = [self._listen_address(args[0]), *args[1:]]
        elif name == "include" and args:
            d["args"] = [self._include(args[0])]
        if "block" in d:
            block = [self._rewrite(c) for c in d["block"] if c["directive"] not in _DROPPED]
            d["block"] = _dedupe_listens(block)
        if name == "http":
            d["block"] = self._http_preamble() + d["block"]
        return d

    def _http_preamble(self) -> list[Directive]:
        temp = self.rundir / "temp"
        return [
            _directive("log_format", "labcheck", _ACCESS_FORMAT),
            _directive("access_log", str(self.access_log), "labcheck"),
            *(_directive(f"{kind}_temp_path", str(temp / kind)) for kind in _TEMP_PATHS),
        ]

    def _upstream_address(self, address: str) -> str:
        parts = split_address(address)
        if parts is None:
            return address
        host, port = parts
        return str(self.network.upstream(host, port))

    def _listen_address(self, address: str) -> str:
        parts = split_address(address)
        if parts is None:
            return address
        _, port = parts
        # The declared port maps to the local nginx endpoint; another port (80, 8080)
        # lands on a free port of the same machine, where no check will look.
        return str(self.network.upstream(self.network.nginx_host, port))

    def _include(self, target: str) -> str:
        if os.path.isabs(target) or any(c in target for c in "*?["):
            return target
        local = self.source.parent / target
        if not local.is_file() and Path(target).name == "mime.types":
            local = Path("/etc/nginx/mime.types")
        if local.is_file():
            copy = self.rundir / "conf" / Path(target).name
            shutil.copyfile(local, copy)
            return str(copy)
        return target


def _copy(d: Directive) -> Directive:
    out = {"directive": d["directive"], "args": list(d["args"])}
    if "block" in d:
        out["block"] = [_copy(c) for c in d["block"]]
    return out


def _directive(name: str, *args: str) -> Directive:
    return {"directive": name, "args": list(args)}


def _block(name: str, block: list[Directive]) -> Directive:
    return {"directive": name, "args": [], "block": block}


def _dedupe_listens(block: list[Directive]) -> list[Directive]:
    seen, out = set(), []
    for d in block:
        if d["directive"] == "listen":
            key = d["args"][0] if d["args"] else ""
            if key in seen:
                continue  # "listen 8181" and "listen [::]:8181" map to the same endpoint
            seen.add(key)
        out.append(d)
    return out


def check(executable: str, config: RunConfig) -> None:
    """``nginx -t`` on the rendered config; its message on failure."""
    result = subprocess.run(
        [*command(executable, config), "-t", "-q"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise NginxConfigError(str(config.source), result.stderr or result.stdout)


def command(executable: str, config: RunConfig) -> list[str]:
    return [
        executable,
        "-p",
        f"{config.rundir}/",
        "-c",
        str(config.path),
        "-e",
        str(config.error_log),
        "-g",
        "daemon off;",
    ]
