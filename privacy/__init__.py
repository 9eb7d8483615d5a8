"""GDPR export and erasure of one customer across every domain's tables."""
