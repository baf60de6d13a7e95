// SluiceConfig: placeholder until its first file lands.
