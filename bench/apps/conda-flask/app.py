"""The conda benchmark's app: Flask on gunicorn in a conda environment, calling the native
blgreet extension (bench/benchmarks/conda.sh; its environment.yml is the channel's fixture)."""

import sys
from importlib.metadata import version

import blgreet
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify(prefix=sys.prefix, flask=version("flask"), greeting=blgreet.message())
