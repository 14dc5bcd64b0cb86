"""Django integration: add `"suno_hooks.contrib.django"` to `INSTALLED_APPS`, configure
`settings.SUNO_HOOKS`, and `include("suno_hooks.contrib.django.urls")`."""
