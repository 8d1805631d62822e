"""arsr: action-recognition-oriented video super-resolution."""
__version__ = "0.1.0"
