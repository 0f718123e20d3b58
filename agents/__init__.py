"""Faust agents and tables (thin) and the pure logic they call (agents.logic)."""
