"""HTTP layer: thin routes that validate, authenticate and delegate to app.service."""
