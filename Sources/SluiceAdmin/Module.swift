// SluiceAdmin: placeholder until its first file lands.
