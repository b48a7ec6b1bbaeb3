"""The same function as Google's Functions Framework serves it (``functions-framework --target predict``).

A Functions Framework HTTP function takes a Flask request and returns a response; this one does
what the harness does for a JSON body: parse, call ``predict()`` of examples/wrapped-function,
answer JSON.
"""

import os
import sys

import flask

sys.path.insert(0, os.environ["BENCH_APP_DIR"])

import model  # noqa: E402


def predict(request: flask.Request) -> flask.Response:
    return flask.jsonify(model.predict(request.get_json()))
