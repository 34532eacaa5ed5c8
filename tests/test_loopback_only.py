"""Network rule: labcheck connects to loopback only, and writes only loopback into configs.

The team labs name private addresses (172.20.10.x): they are parsed, mapped and run on
loopback, never contacted.
"""

import ipaddress
import os
import sys

import pytest
from test_team_labs import team_lab

from conftest import ROOT, run_checks
from labcheck import isolation, nginx
from labcheck.config import load_lab
from labcheck.network import Endpoint, Network
from labcheck.probes import NotLoopback, get

A, B = "172.20.10.2", "172.20.10.13"  # the corpus team's machines: never contacted


def loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def test_every_connection_of_a_team_lab_run_is_loopback(lab_dir, tmp_path):
    audit = tmp_path / "connects.txt"
    env = {
        "AUDIT_FILE": str(audit),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), *sys.path]),
    }
    outcome = run_checks(team_lab(lab_dir), "-p", "audit_connections", env=env)

    assert outcome.returncode == 0, outcome.output
    hosts = set(audit.read_text().split())
    assert {"127.0.0.2", "127.0.0.3"} <= hosts  # A's and B's machines, as mapped
    assert all(loopback(h) for h in hosts), hosts


def test_team_machines_and_ports_map_to_loopback(lab_dir):
    network = Network(load_lab(team_lab(lab_dir)), free_ports=True)
    a, b, proxy = network.local["A"], network.local["B"], network.local["nginx"]
    assert a.host == proxy.host != b.host
    assert all(loopback(e.host) for e in (a, b, proxy))
    assert network.connect(A, 3000) == a
    assert network.connect(B, 3001) == b
    assert network.connect("127.0.0.1", 3000) == a  # nginx runs on A's machine
    assert network.service_at(network.connect(A, 3001)) is None  # a port nothing declares
    stray = network.connect("172.20.10.99", 3001)  # a machine nobody declared
    assert loopback(stray.host) and stray not in (a, b, proxy)

    machine = network.machine_of("B")
    assert machine.bind("0.0.0.0", 3001).endpoint == b
    assert machine.bind(B, 3001).endpoint == b
    assert machine.bind("0.0.0.0", 3000).endpoint not in (a, b)  # B's own port 3000
    assert machine.bind("0.0.0.0", 3000).endpoint == network.connect(B, 3000)
    private = machine.bind("127.0.0.1", 3001)
    assert private.scope == "private" and private.endpoint not in (a, b)
    assert machine.bind(A, 3001).endpoint is None  # not B's address: the OS refuses


@pytest.mark.parametrize("conf", ["nginx.conf", "labcluster.conf"])
def test_team_nginx_conf_is_rendered_with_loopback_only(lab_dir, tmp_path, conf):
    lab = load_lab(team_lab(lab_dir, ("lab.yaml", "config: nginx.conf", f"config: {conf}")))
    network = Network(lab, free_ports=True)
    config = nginx.RunConfig(lab.path(lab.nginx.config), tmp_path / "run", network)
    rendered = config.write().read_text()

    addresses = config.addresses()
    assert addresses and all(loopback(e.host) for e in addresses)
    assert network.local["nginx"] in addresses
    assert {network.local["A"], network.local["B"]} <= set(addresses)
    assert "172.20.10" not in rendered
    assert str(tmp_path / "run") in rendered  # logs, pid, temp paths inside the run folder
    assert config.facts.upstream.servers[0][0] == f"{A}:3000"  # facts: as the team wrote
    assert config.routes == [(f"{A}:3000", "A"), (f"{B}:3001", "B")]
    if conf == "nginx.conf":
        assert (tmp_path / "run" / "conf" / "mime.types").is_file()
        assert f"root {tmp_path / 'run' / 'html'};" in rendered


def test_directives_that_reach_out_are_mapped_or_left_out(lab_dir, tmp_path):
    lab_yaml = team_lab(lab_dir, ("lab.yaml", "config: nginx.conf", "config: evil.conf"))
    (lab_dir / "evil.conf").write_text(
        "load_module /tmp/evil.so;\nuser root;\nevents {}\nhttp {\n"
        "    resolver 8.8.8.8;\n    include /etc/passwd;\n    include ../../*.conf;\n"
        "    proxy_cache_path /var/cache/evil keys_zone=evil:1m;\n"
        "    server {\n        listen 8181;\n        access_log /etc/evil.log;\n"
        f"        location / {{ proxy_pass http://{A}:3000; }}\n"
        "        location /b { proxy_pass http://10.9.8.7/b; }\n"
        "        location /c { proxy_pass http://$host; root /etc; }\n    }\n}\n"
    )
    lab = load_lab(lab_yaml)
    network = Network(lab, free_ports=True)
    config = nginx.RunConfig(lab.path(lab.nginx.config), tmp_path / "run", network)
    rendered = config.write().read_text()

    assert all(loopback(e.host) for e in config.addresses()), config.addresses()
    assert f"proxy_pass http://{network.local['A']};" in rendered  # A's address, mapped
    for outside in ("8.8.8.8", "10.9.8.7", "/etc", "/var/cache", "/tmp/evil", "user "):
        assert outside not in rendered, outside
    left_out = " ".join(config.notes)
    for directive in (
        "load_module",
        "user root",
        "resolver",
        "include /etc/passwd",
        "include ../../*.conf",
        "proxy_cache_path",
        "proxy_pass http://$host",
    ):
        assert f"« {directive}" in left_out, directive


def test_probe_refuses_a_non_loopback_address():
    with pytest.raises(NotLoopback, match="n'envoie rien hors de la boucle locale"):
        get("A", f"http://{A}:3000/")


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace needs root")
def test_as_root_the_team_processes_run_in_a_loopback_only_namespace(lab_dir):
    here = isolation.namespace()
    greeting = "return '<h2>Hello, World! From SG: 172.20.10.2<h2>'"
    spy = "import os; return '<h2>SG ' + os.readlink('/proc/self/ns/net') + '</h2>'"
    outcome = run_checks(team_lab(lab_dir, ("app_SG.py", greeting, spy)))

    assert outcome.returncode == 0, outcome.output
    assert outcome.results["network_namespace"] == "privé (boucle locale seulement)"
    seen = outcome.question("Q1")["facts"]["greetings"]["A"]
    assert seen.startswith("SG net:[") and here not in seen


def test_binding_endpoint_text_round_trips():
    assert Endpoint.parse("127.0.0.2:3000") == Endpoint("127.0.0.2", 3000)
