"""Secrets Manager rotation functions (their own Lambda functions, packaged by the Makefile)."""
