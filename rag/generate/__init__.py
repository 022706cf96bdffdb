"""Messages become text: the backends that run a language model.

In: chat messages. Out: streamed text (with log-probabilities where the backend has them), from a bundled GGUF run
in-process by llama.cpp or an OpenAI-compatible server; also the prompts, follow-up rewriting and the model files.
"""
