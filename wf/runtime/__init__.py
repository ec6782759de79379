"""The wf runtime: deterministic workflow loop, replay, engine and worker, stores, serde."""
