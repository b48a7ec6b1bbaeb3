"""A small Flask service: the sample app the README builds with the Blacklodge builder."""

import os
import platform

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify(
        message="Hello from a Blacklodge-built image!",
        python=platform.python_version(),
        user=os.getuid(),
    )
