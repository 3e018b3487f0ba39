"""What is kept: the artifact key and the artifact caches (local, and the signed shared one),
PGO profiles, receipts and the installed builds (registry, names), manifests."""
