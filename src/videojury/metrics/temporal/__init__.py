"""Temporal metrics: flicker, frozen frames, motion (optical flow)."""
