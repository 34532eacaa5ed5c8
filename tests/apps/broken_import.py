"""Mistake seen in real teams: a typo in the import, the file does not even start."""

from flask import flask  # noqa: F401

app = flask(__name__)
