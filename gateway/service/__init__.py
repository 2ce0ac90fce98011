"""Service adapters around the pipeline: HTTP intake (FastAPI), the Kafka worker, metrics."""
