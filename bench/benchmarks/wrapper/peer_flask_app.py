"""The same function behind a hand-written Flask app, as one would write it without a wrapper."""

import os
import sys

from flask import Flask, jsonify, request

sys.path.insert(0, os.environ["BENCH_APP_DIR"])

import model  # noqa: E402

app = Flask(__name__)


@app.post("/predict")
def predict():  # type: ignore[no-untyped-def]
    return jsonify(model.predict(request.get_json()))
