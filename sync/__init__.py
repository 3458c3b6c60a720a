"""postmortem-sync: Confluence postmortem action items -> Jira tickets -> completion rates."""

__version__ = "0.1.0"
