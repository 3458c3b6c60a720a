"""Checks of what the site is against what the configuration says: the deployment, and the credentials it takes.

Jira's serverInfo answers without credentials on both deployments, so this runs before the credentials
check: when the site refuses them, the line above says whether they were of the wrong kind to start with.
"""

from __future__ import annotations

from collections.abc import Iterator

from sync.checks import Check, Probe
from sync.ports import AtlassianError, DeploymentKind
from sync.settings.section import gateway_product

NAMES = {"cloud": "Cloud", "datacenter": "Data Center"}


def deployment(probe: Probe) -> Iterator[Check]:
    """The site's deployment matches `jira.deployment`/`confluence.deployment`, and the credentials fit it."""
    j, conf = probe.settings.jira, probe.settings.confluence
    try:
        site = probe.jira.site_deployment()
    except AtlassianError:
        return  # the credentials check says what is wrong with the site
    wrong = [f"{name}.deployment is {configured}" for name, configured in (("jira", j.deployment),
                                                                              ("confluence", conf.deployment))
             if configured not in ("auto", site)]
    if wrong:
        yield Check("deployment", False, f"{' and '.join(wrong)}, but Jira at {j.url} says it is {NAMES[site]} "
                    f"(serverInfo deploymentType): set it to {site}, or auto")
        return
    problem = _auth_problem(probe, site)
    if problem:
        yield Check("deployment", False, problem)
        return
    yield Check("deployment", True, f"Jira at {j.url} is {NAMES[site]}; {_auth_used(probe, site)}")


def _auth_problem(probe: Probe, site: DeploymentKind) -> str | None:
    """Why the configured credentials cannot work on this deployment, or None."""
    j = probe.settings.jira
    basic = bool(j.email and j.api_token)
    if site == "cloud" and not basic:
        return (f"Jira at {j.url} is Cloud, which does not take a personal access token (jira.pat): set jira.email "
                "and jira.api_token (an API token from id.atlassian.com/manage-profile/security/api-tokens)")
    if site == "datacenter" and not (j.pat or basic):
        return f"Jira at {j.url} is Data Center: set jira.pat (a personal access token from your Jira profile)"
    return None


def _auth_used(probe: Probe, site: DeploymentKind) -> str:
    """How we authenticate, in words: Cloud basic with an API token (through the gateway or not), or a PAT."""
    j = probe.settings.jira
    if site == "datacenter":
        return ("authenticating with a personal access token" if j.pat else
                "authenticating with basic auth (a personal access token, jira.pat, is recommended)")
    through = (" through Atlassian's API gateway (a scoped API token)" if gateway_product(j.api_url)
               else " on the site (a classic API token)")
    return f"authenticating as {j.email} with an API token{through}"
