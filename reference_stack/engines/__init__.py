"""How each engine is prepared and started: model files, llama.cpp build, vLLM launcher."""
