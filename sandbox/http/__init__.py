"""Serving the sandbox: the threading HTTP server, the request pipeline (admin → browser view → API),
routing, the request/reply types, Atlassian-shaped errors, fault injection, statistics and /_sandbox/."""
