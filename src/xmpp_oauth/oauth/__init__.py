"""OAuth 2.0 / OpenID Connect protocol logic, framework-free."""
