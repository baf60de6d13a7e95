// PostgresWire: placeholder until its first file lands.
