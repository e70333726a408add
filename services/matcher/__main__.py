"""`python -m services.matcher` runs the matcher service."""

from services.matcher.app import build
from shared.service import run

if __name__ == "__main__":
    run(build())
