"""Qt-free: a trained model on new data (predict on files, the drawing reader). Reads models
through netbuilder.model and never imports training."""
