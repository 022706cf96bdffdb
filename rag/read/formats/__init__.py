"""How each file format is read into (kind, text, level) pieces or blocks; rag/read/readers.py picks one by suffix.

Example: html_text.read_html("<h1>Ports</h1><p>Use <code>8080</code>.</p>")[0]
         -> [("heading", "Ports", 1), ("paragraph", "Use 8080.", 0)]
Modules: blocks (Block, assemble), plain_text (txt/md, blocks found in the file), html_text, pdf_lines + pdf_text,
docx_text.
"""
