"""Scores an order: the whole application. No web framework, no server, no Dockerfile.

The Blacklodge wrapper calls predict() once per request (or once per job) with the parsed
JSON body, and sends back what it returns as JSON.
"""

WEIGHTS = {"amount": 0.004, "items": 0.05, "new_customer": 0.3, "express": 0.1}


def predict(payload):
    missing = [key for key in ("amount", "items") if key not in payload]
    if missing:
        # Any exception is a 500; raise blacklodge_harness.BadInput for a 400 instead.
        raise ValueError(f"missing fields: {', '.join(missing)}")
    features = {
        "amount": float(payload["amount"]),
        "items": float(payload["items"]),
        "new_customer": 1.0 if payload.get("new_customer") else 0.0,
        "express": 1.0 if payload.get("express") else 0.0,
    }
    score = min(1.0, sum(WEIGHTS[name] * value for name, value in features.items()))
    return {"risk": round(score, 3), "review": score > 0.5}
