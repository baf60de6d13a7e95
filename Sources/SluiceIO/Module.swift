// SluiceIO: placeholder until its first file lands.
