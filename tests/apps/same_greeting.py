"""Mistake: both members kept the handout's greeting unchanged."""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "<h2>Hello, World!</h2>"


if __name__ == "__main__":
    app.run(host=os.environ["LABCHECK_HOST"], port=int(os.environ["LABCHECK_PORT"]))
