"""Tonne: an open-source national carbon registry."""
