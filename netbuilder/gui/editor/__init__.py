"""The node-graph editor: GraphScene (items mirroring the graph) and GraphView (zoom, pan, drops)."""
from .scene import GraphScene
from .view import LAYER_MIME_TYPE, GraphView

__all__ = ["GraphScene", "GraphView", "LAYER_MIME_TYPE"]
