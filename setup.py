"""Shim so that ``pip install -e .`` works with older tooling; see setup.cfg."""
from setuptools import setup

setup()
