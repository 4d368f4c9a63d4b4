"""leadsync: HubSpot marketing responses into Salesforce, by lead management method."""

__version__ = "0.1.0"
