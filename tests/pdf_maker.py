"""Write small real PDFs by hand for the reader tests: pages of positioned text in Helvetica, or in a composite font.

Example: make_pdf([[Text(72, 700, "Hello there.")]], title="Greeting") -> b"%PDF-1.4 ..." that pypdf reads back as
"Hello there.". Each Text is one printed line: `BT /F1 11 Tf 72 700 Td (Hello there.) Tj ET`; a line given as a list
is drawn with TJ (strings and moves, as TeX writes kerning and word gaps). cid=True draws every line in a Type0
Identity-H font whose glyphs carry no space, with the word gaps as TJ moves, the way XeTeX and dblatex print.
"""

from __future__ import annotations

from dataclasses import dataclass

_ALPHABET = "".join(chr(c) for c in range(33, 127))  # CID i+1 is _ALPHABET[i]; no glyph is a space


@dataclass
class Text:
    x: float
    y: float
    text: str | list  # a list mixes strings and TJ moves (thousandths of an em, negative moves right)
    size: float = 11
    font: str = "F1"  # F1 Helvetica, F2 Helvetica-Bold, F3 Courier


def _literal(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _cid(text: str) -> str:
    return "<" + "".join(f"{_ALPHABET.index(c) + 1:04x}" for c in text) + ">"


def _show(item: Text, cid: bool) -> str:
    encode = _cid if cid else _literal
    if isinstance(item.text, list):
        parts = " ".join(encode(p) if isinstance(p, str) else str(p) for p in item.text)
        return f"[{parts}] TJ"
    if cid:  # a composite font without a space glyph: words are placed with moves
        words = item.text.split(" ")
        return "[" + " -200 ".join(encode(w) for w in words) + "] TJ"
    return f"{encode(item.text)} Tj"


def _cid_font_objects(first: int) -> tuple[list[str], str]:
    """Objects of a Type0 font starting at number `first`, and the font's reference."""
    cmap = "\n".join(["/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /T1 def",
                      "1 begincodespacerange <0000> <ffff> endcodespacerange",
                      f"{len(_ALPHABET)} beginbfchar",
                      *(f"<{i + 1:04x}> <{ord(c):04x}>" for i, c in enumerate(_ALPHABET)),
                      "endbfchar endcmap CMapName currentdict /CMap defineresource pop end end"])
    widths = " ".join("556" for _ in _ALPHABET)
    objects = [
        f"<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+LiberationSerif /Encoding /Identity-H "
        f"/DescendantFonts [{first + 1} 0 R] /ToUnicode {first + 3} 0 R >>",
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+LiberationSerif /CIDSystemInfo << /Registry (Adobe) "
        f"/Ordering (Identity) /Supplement 0 >> /FontDescriptor {first + 2} 0 R /DW 1000 /W [1 [{widths}]] >>",
        "<< /Type /FontDescriptor /FontName /ABCDEF+LiberationSerif /Flags 6 /FontBBox [0 -200 1000 900] "
        "/ItalicAngle 0 /Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >>",
        f"<< /Length {len(cmap)} >>\nstream\n{cmap}\nendstream",
    ]
    return objects, f"{first} 0 R"


def make_pdf(pages: list[list[Text]], title: str | None = None, mod_date: str | None = None, cid: bool = False) -> bytes:
    """A PDF of US-letter pages holding the given lines."""
    objects: list[str] = ["<< /Type /Catalog /Pages 2 0 R >>", ""]  # 1: catalog, 2: pages (filled in below)
    if cid:
        font_objects, font = _cid_font_objects(3)
        objects += font_objects
        fonts = f"<< /F1 {font} /F2 {font} /F3 {font} >>"
    else:
        base = len(objects) + 1
        objects += [f"<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>"
                    for name in ("Helvetica", "Helvetica-Bold", "Courier")]
        fonts = f"<< /F1 {base} 0 R /F2 {base + 1} 0 R /F3 {base + 2} 0 R >>"
    page_refs = []
    for lines in pages:
        content = "\n".join(f"BT /{t.font} {t.size} Tf {t.x} {t.y} Td {_show(t, cid)} ET" for t in lines)
        objects.append(f"<< /Length {len(content.encode('cp1252'))} >>\nstream\n{content}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font {fonts} >> "
                       f"/Contents {len(objects)} 0 R >>")
        page_refs.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(page_refs)}] /Count {len(page_refs)} >>"
    info = {"/Title": title, "/ModDate": mod_date}
    info_entries = " ".join(f"{key} {_literal(value)}" for key, value in info.items() if value)
    objects.append(f"<< {info_entries} >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("cp1252")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
