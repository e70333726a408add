"""The security tests attack the same services the integration tests run: their `stack`."""

from tests.integration.conftest import stack

__all__ = ["stack"]
