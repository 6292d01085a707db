"""Collectors: from the Hugging Face Hub (or a mirror of it) into the store. They never import analyses."""
