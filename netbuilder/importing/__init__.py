"""Importing models written elsewhere: a Python file with an nn.Module class (traced with torch.fx)
becomes a netbuilder graph with blocks and trained weights; operations without a layer are listed
in an import report rather than dropped."""
