"""`manage.py suno_hooks`: the inbox, replays and expected tasks from the command line."""
