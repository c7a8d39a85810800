"""The researchers: the provider-agnostic LLM research loop, its tools, and the baseline."""
