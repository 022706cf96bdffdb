"""The chat window's side of the app: one client of the pipeline in rag/ (rendering, conversation state, model warm-up,
uploads, feedback, and the page's script and style). app.py wires these into a Gradio Blocks app."""
