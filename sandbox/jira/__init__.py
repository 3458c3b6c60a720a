"""The sandbox's Jira: the issue store and its fixed catalogue (project OPS, workflow, board, sprints),
field validation, rich text, JSON representations and the REST handlers (platform v2/v3, Agile 1.0)."""
