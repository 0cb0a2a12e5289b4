"""pvsched: a fast, kernel-faithful simulator of double scheduling (Linux/KVM)."""
