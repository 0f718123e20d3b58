"""Where alert transitions go: the ordermon.alerts topic (always), a log line, Alertmanager."""
