"""Network rule: labcheck connects to loopback only, and writes only loopback into configs."""

import ipaddress
import os
import sys

import pytest

from conftest import ROOT, build_lab, run_checks
from labcheck import nginx
from labcheck.config import load_lab
from labcheck.network import Network
from labcheck.probes import NotLoopback, get

TEAM = ("172.20.10.2", "172.20.10.13")  # parsed only: never run, never contacted


def test_every_connection_of_a_run_is_loopback(lab_dir, tmp_path):
    audit = tmp_path / "connects.txt"
    lab_yaml = build_lab(lab_dir, hosts=("127.0.0.2", "127.0.0.3"))
    env = {
        "AUDIT_FILE": str(audit),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), *sys.path]),
    }
    outcome = run_checks(lab_yaml, "-p", "audit_connections", env=env)

    assert outcome.returncode == 0, outcome.output
    hosts = audit.read_text().split()
    assert {"127.0.0.2", "127.0.0.3"} <= set(hosts)
    assert all(ipaddress.ip_address(h).is_loopback for h in hosts), set(hosts)


def test_team_addresses_become_loopback_machines(lab_dir):
    lab = load_lab(build_lab(lab_dir, hosts=TEAM))
    network = Network(lab, free_ports=True)
    a, b, proxy = network.local["A"], network.local["B"], network.local["nginx"]
    assert a.host == proxy.host != b.host
    assert all(ipaddress.ip_address(e.host).is_loopback for e in (a, b, proxy))
    assert network.upstream("172.20.10.2", 3000) == a
    assert network.upstream("172.20.10.13", 3001) == b
    stray = network.upstream("172.20.10.99", 3001)  # no declared server: nothing listens
    assert ipaddress.ip_address(stray.host).is_loopback and stray not in (a, b, proxy)


def test_team_nginx_conf_is_rendered_with_loopback_only(lab_dir, tmp_path):
    lab = load_lab(build_lab(lab_dir, nginx_conf="team_private_ips.conf", hosts=TEAM))
    network = Network(lab, free_ports=True)
    config = nginx.RunConfig(lab.path(lab.nginx.config), tmp_path / "run", network)
    rendered = config.write().read_text()

    addresses = config.addresses()
    assert addresses and all(ipaddress.ip_address(e.host).is_loopback for e in addresses)
    assert network.local["nginx"] in addresses
    assert "172.20.10" not in rendered
    assert str(tmp_path / "run") in rendered  # logs, pid, temp paths inside the run folder
    assert (tmp_path / "run" / "conf" / "mime.types").is_file()
    assert config.facts.upstream.servers[0][0] == "172.20.10.2:3000"  # facts: as the team wrote


def test_probe_refuses_a_non_loopback_address():
    with pytest.raises(NotLoopback, match="n'envoie rien hors de la boucle locale"):
        get("A", f"http://{TEAM[0]}:3000/")
