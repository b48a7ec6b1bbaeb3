"""The bare WSGI app (bare_app.py) under an ASGI server: uvicorn through the a2wsgi adapter."""

from a2wsgi import WSGIMiddleware

from bare_app import app as wsgi_app

app = WSGIMiddleware(wsgi_app, workers=4)
