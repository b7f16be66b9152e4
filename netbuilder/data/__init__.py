"""Qt-free datasets: built-in digits, MNIST-style IDX files, image folders, CSV and text CSV."""
