"""netbuilder: design neural networks visually, train them and try them out."""

__version__ = "0.1.0"
