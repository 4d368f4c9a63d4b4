"""The leadsync sandbox: a local emulator of the Salesforce and HubSpot APIs leadsync uses.

Not a vendor API: the admin endpoints live under ``/_sandbox/``.
"""

from .server import Sandbox, SandboxApp

__all__ = ["Sandbox", "SandboxApp"]
