"""`python -m examples.client_web` — serve the web client (settings: examples/client_web/settings.py)."""

import uvicorn

from examples.client_web.app import create_app
from examples.client_web.settings import parse_settings

if __name__ == "__main__":
    settings = parse_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
