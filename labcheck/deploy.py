"""Helpers for the real deployment, on the team's machines: `labcheck serve` and `labcheck nginx`.

``serve A`` runs A's app file as the team would (``python app_SG.py``) but listening on
0.0.0.0 and A's declared port, whatever the file asks. ``nginx`` writes the nginx config
of the lab from lab.yaml (an upstream of A and B, a server on nginx's port), and can run
it in the foreground with a private prefix, so that no administrator rights are needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import crossplane

from labcheck import nginx
from labcheck.config import Lab

_d = nginx.directive

_UPSTREAM = "labcluster"


def serve(lab: Lab, name: str, host: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run server ``name``'s app on (host, its port)."""
    server = lab.servers[name]
    app = lab.path(server.app)
    env = {
        **os.environ,
        "LABCHECK_BIND": f"{host}:{server.port}",
        "LABCHECK_MEMBER": " et ".join(server.members),
        "LABCHECK_ADDRESS": f"{server.host}:{server.port}",
    }
    return [sys.executable, "-m", "labcheck.teamapp", str(app)], env


def nginx_config(lab: Lab, prefix: Path | None = None) -> str:
    """The lab's nginx.conf, from lab.yaml; with ``prefix``, its paths point there."""
    a, b = lab.servers["A"], lab.servers["B"]
    main = []
    http = []
    if prefix is not None:
        main = [
            _d("pid", str(prefix / "nginx.pid")),
            _d("error_log", str(prefix / "error.log")),
        ]
        http = [_d("access_log", str(prefix / "access.log"))] + [
            _d(f"{kind}_temp_path", str(prefix / "temp" / kind)) for kind in nginx.TEMP_PATHS
        ]
    config = [
        *main,
        _d("worker_processes", "1"),
        {"directive": "events", "args": [], "block": [_d("worker_connections", "1024")]},
        {
            "directive": "http",
            "args": [],
            "block": [
                *http,
                {
                    "directive": "upstream",
                    "args": [_UPSTREAM],
                    "block": [
                        _d("server", f"{a.host}:{a.port}"),
                        _d("server", f"{b.host}:{b.port}"),
                    ],
                },
                {
                    "directive": "server",
                    "args": [],
                    "block": [
                        _d("listen", str(lab.nginx.port)),
                        {
                            "directive": "location",
                            "args": ["/"],
                            "block": [_d("proxy_pass", f"http://{_UPSTREAM}")],
                        },
                    ],
                },
            ],
        },
    ]
    return "# Généré par labcheck depuis lab.yaml\n" + crossplane.build(config) + "\n"


def run_nginx(lab: Lab, folder: Path) -> list[str]:
    """Write the lab's config under ``folder`` and return the command that runs it."""
    (folder / "temp").mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(lab, folder), encoding="utf-8")
    return [
        nginx.binary(), "-p", f"{folder}/", "-c", str(conf), "-e", str(folder / "error.log"),
        "-g", "daemon off;",
    ]  # fmt: skip
