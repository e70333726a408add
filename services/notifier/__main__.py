"""`python -m services.notifier` runs the notifier service."""

from services.notifier.app import build
from shared.service import run

if __name__ == "__main__":
    run(build())
