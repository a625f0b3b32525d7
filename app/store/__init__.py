"""Persistence: DynamoDB for metadata (echoes.py), S3 for audio (audio.py), signed cursors."""
