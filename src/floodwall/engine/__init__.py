"""The engine: a pipeline of stages (ingest, signals, content, decide, act, cases) over a batch value."""
