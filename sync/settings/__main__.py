"""`python -m sync.settings > docs/configuration.md`: print the configuration reference."""

from sync.settings.reference import settings_reference

print(settings_reference())
