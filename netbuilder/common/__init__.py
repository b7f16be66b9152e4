"""What every layer uses: bounded file reading and atomic writes, shown text, app folders, the
error log, the Input/Output contracts and one typed JSON field reader. Imports no other layer,
no torch and no Qt."""
