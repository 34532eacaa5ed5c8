"""Mistake: the route raises, so the server answers HTTP 500 to every request."""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "<h2>Hello, World! From " + None + "</h2>"  # TypeError -> HTTP 500


if __name__ == "__main__":
    app.run(host=os.environ["LABCHECK_HOST"], port=int(os.environ["LABCHECK_PORT"]))
