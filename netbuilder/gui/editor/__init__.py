"""The node-graph editor: GraphScene (items mirroring the graph) and GraphView (zoom, pan, drops)."""
from .scene import GraphScene
from .view import BLOCK_MIME_TYPE, LAYER_MIME_TYPE, GraphView

__all__ = ["BLOCK_MIME_TYPE", "GraphScene", "GraphView", "LAYER_MIME_TYPE"]
