"""curate: audit the Hugging Face Hub and curate multilingual pretraining data."""

__version__ = "0.1.0"
