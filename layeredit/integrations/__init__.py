"""layeredit for other agents: the tool functions, as LangChain tools and over MCP.

This package sits above the Python API (it calls :func:`layeredit.api.edit`); nothing below it
imports from here.
"""
