// SluiceCore: placeholder until its first file lands.
