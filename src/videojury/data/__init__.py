"""Inputs: items, manifests and folders, prompt suites, synthetic videos."""

from .items import Item, load_items, load_manifest, read_table, scan_folder

__all__ = ["Item", "load_items", "load_manifest", "read_table", "scan_folder"]
