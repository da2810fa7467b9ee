"""`--engine sim`: a standard-library simulator of vLLM's OpenAI-compatible server."""
