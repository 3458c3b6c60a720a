"""Tests of the Atlassian adapters at the HTTP boundary (responses)."""
