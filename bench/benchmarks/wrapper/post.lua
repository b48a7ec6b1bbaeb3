-- wrk script: POST /predict with a small JSON order.
wrk.method = "POST"
wrk.path = "/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount": 120.5, "items": 3, "new_customer": true}'
