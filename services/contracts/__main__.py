"""`python -m services.contracts` runs the contracts service."""

from services.contracts.app import build
from shared.service import run

if __name__ == "__main__":
    run(build())
