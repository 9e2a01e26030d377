"""saslservice."""
