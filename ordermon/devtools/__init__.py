"""Tools for people and tests: scenarios of synthetic traffic, the simulator, the embedded broker.

Never imported by the worker."""
