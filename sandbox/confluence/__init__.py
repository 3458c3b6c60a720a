"""The sandbox's Confluence: spaces, pages and content properties, their JSON representations and the
REST v1 handlers under /wiki/rest/api."""
