"""`python -m services.matcher` runs the matcher service."""

from services.matcher import loading
from services.matcher.app import build, changing
from shared.service import run

if __name__ == "__main__":
    svc = build()
    loading.register(svc, changing)  # until build() does it (see services.matcher.loading)
    run(svc)
