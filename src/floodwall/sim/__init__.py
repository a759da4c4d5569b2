"""The simulator: scenarios, the simulated platform, frames, truth, scoring, replays and reports."""
