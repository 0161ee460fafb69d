"""`python -m examples.client_web` — serve the web client (HOST, PORT; other settings in app.py)."""

import os

import uvicorn

if __name__ == "__main__":
    uvicorn.run("examples.client_web.app:app_from_env", factory=True, host=os.environ.get("HOST", "127.0.0.1"),
                port=int(os.environ.get("PORT", "8000")), log_level=os.environ.get("LOG_LEVEL", "info"))
