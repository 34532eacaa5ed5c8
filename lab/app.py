"""The reference Flask app of the lab: one greeting per team member, as in the handout.

labcheck runs this file once per server, as it runs a team's own app files, and says
which member it plays through the environment (LABCHECK_MEMBER, LABCHECK_ADDRESS).
Run by hand it plays member A: ``python lab/app.py`` then open http://127.0.0.1:3000/.
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
    member = os.environ.get("LABCHECK_MEMBER", "SG")
    address = os.environ.get("LABCHECK_ADDRESS", "127.0.0.1:3000")
    create_app(member, address).run(host="0.0.0.0", port=int(address.rpartition(":")[2]))
