"""A file becomes text as read and its units.

In: a path (txt, md, html, pdf, docx). Out: DocumentText (text as read, blocks, title, date), its Outline and
the chunk and sentence spans cut from it.
"""
