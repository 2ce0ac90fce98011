"""Test utilities shipped with the gateway: message builders and corpus generators."""
