"""The handout's way: debug=True, so Werkzeug's reloader forks a child that serves."""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return f"<h2>Hello, World! From {os.environ['LABCHECK_MEMBER']}</h2>"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ["LABCHECK_ADDRESS"].split(":")[1]), debug=True)
