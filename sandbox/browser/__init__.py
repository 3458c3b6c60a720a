"""The browser view: Confluence pages and Jira issues as HTML a person can look at."""
