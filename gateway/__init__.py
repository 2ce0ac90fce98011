"""jwmo-gateway: validate, minimise and forward iJw/iWmo declaration messages."""

from gateway.results import Finding, Stage, Verdict

__all__ = ["Finding", "Stage", "Verdict"]
__version__ = "0.1.0"
