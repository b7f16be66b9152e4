"""Exports of a project's network for use outside netbuilder, shared by the window's Export menu and
`netbuilder-cli export`.

`formats` is the registry (torch-free, so that the window lists the formats without importing torch):
one entry per format with its file suffix and the module whose `write` writes it. `exporting` finds
the weights to write and runs a writer; `code`, `programs`, `onnx_file` and `weights` are the writers;
every written model carries its recipe (how raw data becomes its input), as `recipe_files` writes it.
"""
