"""The project's exceptions: each one carries its data and says, in French, what to do."""

from __future__ import annotations


class LabcheckError(Exception):
    """Base of every error labcheck reports to a user as one French line."""


class ConfigError(LabcheckError):
    """lab.yaml (or a file it names) is not usable."""

    def __init__(self, source: str, where: str | None, message: str) -> None:
        super().__init__(source, where, message)
        self.source, self.where, self.message = source, where, message

    def __str__(self) -> str:
        where = f"{self.source}: {self.where} : " if self.where else f"{self.source}: "
        return where + self.message


class NginxNotFound(LabcheckError):
    def __init__(self, tried: str) -> None:
        super().__init__(tried)
        self.tried = tried

    def __str__(self) -> str:
        return (
            f"nginx introuvable ({self.tried}) : installez-le avec "
            "« sudo apt-get install -y nginx », ou indiquez son chemin dans LABCHECK_NGINX."
        )


class NginxConfigError(LabcheckError):
    def __init__(self, config: str, output: str) -> None:
        super().__init__(config, output)
        self.config, self.output = config, output

    def __str__(self) -> str:
        lines = [line.strip() for line in self.output.strip().splitlines() if line.strip()]
        # nginx's own complaint; not "configuration file /tmp/... test failed", which
        # names labcheck's copy.
        problems = [line for line in lines if "[emerg]" in line or "[error]" in line]
        detail = " ".join(line.removeprefix("nginx: ") for line in problems or lines[-1:])
        return f"{self.config} : nginx refuse cette configuration (nginx -t) : {detail}"


class PortBusy(LabcheckError):
    def __init__(self, name: str, host: str, port: int, owner: str | None) -> None:
        super().__init__(name, host, port, owner)
        self.name, self.host, self.port, self.owner = name, host, port, owner

    def __str__(self) -> str:
        owner = f" par {self.owner}" if self.owner else " par un autre programme"
        return (
            f"port {self.port} ({self.host}) déjà occupé{owner} : impossible de démarrer "
            f"{self.name}. Arrêtez ce programme ou changez le port dans lab.yaml."
        )


class StartError(LabcheckError):
    """A lab process exited or never became ready."""

    def __init__(self, name: str, reason: str, tail: str, exit_code: int | None = None) -> None:
        super().__init__(name, reason, tail, exit_code)
        self.name, self.reason, self.tail = name, reason, tail
        self.exit_code = exit_code  # None: still running; negative: the signal that ended it

    def __str__(self) -> str:
        tail = " | ".join(line for line in self.tail.strip().splitlines()[-3:] if line.strip())
        return f"{self.name} n'a pas démarré : {self.reason}" + (
            f" — dernières lignes : {tail}" if tail else ""
        )
