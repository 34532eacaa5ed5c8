"""The reference Flask app of the lab: one greeting per team member, as in the handout.

labcheck runs this file once per server and says which server it plays through the
environment (LABCHECK_MEMBER, LABCHECK_HOST, LABCHECK_PORT). Run by hand it plays
member A: ``python lab/app.py`` then open http://127.0.0.1:3000/.
"""

import os

from flask import Flask


def create_app(member: str, address: str) -> Flask:
    """The app of one team member, answering ``GET /`` with that member's greeting."""
    app = Flask(__name__)

    @app.route("/")
    def hello_world() -> str:
        return f"<h2>Hello, World! venant de {member} à l'adresse {address}</h2>"

    return app


if __name__ == "__main__":
    host = os.environ.get("LABCHECK_HOST", "127.0.0.1")
    port = int(os.environ.get("LABCHECK_PORT", "3000"))
    member = os.environ.get("LABCHECK_MEMBER", "SG")
    address = os.environ.get("LABCHECK_ADDRESS", f"{host}:{port}")
    create_app(member, address).run(host=host, port=port)
