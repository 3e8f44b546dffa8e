"""Whole-registry commands and jobs: the demo, the background worker, the
server and the installation root user. The top floor: it may import every app,
and no app imports it."""
