"""llm_runtime: what runs inside the engine process or container (`python3 -m llm_runtime --engine vllm|sim ...`)."""

__version__ = "0.1.0"

# The vLLM release the production image pins (Dockerfile.gpu) and the simulator imitates.
VLLM_VERSION = "0.33.0"
