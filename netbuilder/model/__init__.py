"""Qt-free: a trained model on disk (graph, weights, recipe and history in one checkpoint file,
the lock that runs saving it share). Below both training, which writes it, and inference, which
reads it; imports neither."""
