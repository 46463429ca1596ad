"""credhelper: impersonated Google Cloud tokens for every tool, from one profile file."""

__version__ = "0.1.0"
