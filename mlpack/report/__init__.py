"""Rendering results: terminal tables, JSON, Markdown, JUnit."""
