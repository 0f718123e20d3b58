"""ordermon: the runtime shell (settings, Faust app, CLI, broker, simulator, sinks)."""

__version__ = "0.1.0"
