"""lab.yaml: each mistake gives one French line naming the file, the key or line, what to do."""

from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from labcheck.config import load_lab, parse_lab
from labcheck.errors import ConfigError

GOOD = (ROOT / "lab.yaml").read_text()


def swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


CASES = {
    "port with a letter O": (
        swap("port: 3001", "port: 30O1"),
        "lab.yaml: servers.B.port : entier entre 1 et 65535 attendu, reçu « 30O1 »",
    ),
    "port out of range": (
        swap("port: 8181", "port: 81810"),
        "lab.yaml: nginx.port : entier entre 1 et 65535 attendu, reçu « 81810 »",
    ),
    "port as text": (swap("port: 3000", 'port: "3000"'), "servers.A.port : entier entre 1"),
    "missing key": (swap("course: 6GEI311\n", ""), "lab.yaml: course : clé obligatoire manquante"),
    "unknown key": (GOOD + "timeout: 3\n", "lab.yaml: timeout : clé inconnue"),
    "misspelt key": (swap("nginx:", "ngnix:"), "clé"),
    "unknown control": (swap("control: local", "control: ssh"), "control : local, manual, ou"),
    "member not in team": (
        swap("[AAB, IB]", "[AAB, XY]"),
        "lab.yaml: servers.B.members : « XY » n'est pas dans team",
    ),
    "two servers on one port": (
        swap("port: 3001", "port: 3000"),
        "lab.yaml: servers.B.port : A et B déclarent tous deux 127.0.0.1:3000",
    ),
    "third server": (
        swap("servers:\n", "servers:\n  C: {members: [SG], host: h, port: 1, app: lab/app.py}\n"),
        "lab.yaml: servers.C : serveur inconnu : A et B seulement",
    ),
    "server B missing": (swap("  B: {", "  # B: {"), "lab.yaml: servers.B : serveur manquant"),
    "app does not exist": (
        swap("app: lab/app.py}", "app: lab/app_SG.py}"),
        "lab.yaml: servers.A.app : fichier introuvable « lab/app_SG.py »",
    ),
    "nginx conf does not exist": (
        swap("config: lab/nginx.conf", "config: nginx/conf/nginx.conf"),
        "lab.yaml: nginx.config : fichier introuvable",
    ),
    "host with a space": (swap("host: 127.0.0.1, port: 3001", "host: 127.0.0.1 x, port: 3001"),
                          "servers.B.host : adresse IPv4 ou nom d'hôte attendu"),
    "empty team": (
        GOOD.split("team:")[0] + "team: []\n" + "servers:" + GOOD.split("servers:")[1],
        "lab.yaml: team : ne doit pas être vide",
    ),
    "requests not a number": (GOOD + "checks: {requests: beaucoup}\n", "checks.requests : entier"),
    "tabs": ("course: 6GEI311\n\tlab: x\n", "lab.yaml: ligne 2 : YAML invalide : tabulation"),
    "unclosed bracket": (swap("[AAB, IB]", "[AAB, IB"), "lab.yaml: ligne 12 : YAML invalide"),
    "colon in value": ("course: 6GEI311: lab\n", "« : » inattendu"),
    "empty file": ("", "lab.yaml: fichier vide"),
    "only a comment": ("# rien\n", "lab.yaml: fichier vide"),
    "a list, not a mapping": ("- A\n- B\n", "lab.yaml: une table de clés est attendue"),
    "a plain word": ("bonjour\n", "une table de clés est attendue"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_lab_yaml_gives_one_french_line(case):
    text, expected = CASES[case]
    with pytest.raises(ConfigError) as raised:
        parse_lab(text, "lab.yaml", ROOT)
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith("lab.yaml")


def test_the_embedded_lab_yaml_is_valid_and_consistent_with_its_nginx_conf():
    from labcheck import nginx

    lab = load_lab(ROOT / "lab.yaml")
    facts = nginx.facts(nginx.parse(lab.path(lab.nginx.config)))
    declared = {f"{s.host}:{s.port}" for s in lab.servers.values()}
    assert {address for address, _ in facts.upstream.servers} == declared
    assert facts.upstream.method == "round-robin"
    assert [nginx.split_address(listen)[1] for listen in facts.listens] == [lab.nginx.port]


def test_example_team_lab_yaml_parses(tmp_path: Path):
    # The team's real addresses are only parsed here, never contacted.
    data = yaml.safe_load(GOOD)
    data["servers"]["A"]["host"] = "172.20.10.2"
    data["servers"]["B"]["host"] = "172.20.10.13"
    data["nginx"]["host"] = "172.20.10.2"
    lab = parse_lab(yaml.safe_dump(data), "lab.yaml", ROOT)
    assert lab.declared_url("B") == "http://172.20.10.13:3001/"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00", "n'est pas un fichier texte UTF-8"),
     (b"course: x\x00\n", "octets nuls")],
)  # fmt: skip
def test_binary_file(tmp_path: Path, content: bytes, expected: str):
    path = tmp_path / "lab.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        load_lab(path)


def test_missing_file_says_what_to_do(tmp_path: Path):
    with pytest.raises(ConfigError, match="fichier introuvable : lancez depuis le dossier"):
        load_lab(tmp_path / "lab.yaml")
