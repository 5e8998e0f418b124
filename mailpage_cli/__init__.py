"""mailpage: send Confluence pages as e-mail."""

__version__ = "0.1.0"
