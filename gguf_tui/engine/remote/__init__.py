"""The remote backend: an OpenAI-compatible server (llama-server, llama_cpp.server, vLLM,
Ollama) behind the same Backend interface as the local engine."""
