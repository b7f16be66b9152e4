"""Qt-free core: the network as data (layer specs, graph, analysis, compile, export, files)."""
