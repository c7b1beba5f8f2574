"""Orchestrators over the stages: ``build`` (one config, the whole chain) and ``tune``."""
