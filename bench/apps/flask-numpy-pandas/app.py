"""Benchmark app: a Flask service doing a small pandas/numpy computation per request."""

import numpy as np
import pandas as pd
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def summary():
    frame = pd.DataFrame({"x": np.arange(10), "y": np.arange(10) ** 2})
    return jsonify(rows=len(frame), y_mean=float(frame["y"].mean()))
