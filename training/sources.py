"""Fetch the public Debian 12 documents the unit ranker and the decision are trained on, and write their manifest.

Example: python3 -m training.sources --out training/corpus
  -> training/corpus/git-doc/git-stash.html, training/corpus/openssh-client/man/man1/ssh.1.txt, ... (<= 8 files and
     ~400 KB a package), training/MANIFEST.json {"packages": [{"name": "git-doc", "version": "1:2.39.5-0+deb12u3",
     "deb_sha256": "3c89…", "licence": "GPL-2", "allowed": true, "files": [{"path": "git-doc/git-stash.html",
     "size": 38568, "sha256": "…"}, …]}, …], "dropped": [{"name": "make-doc", "reason": "apt-get download failed: E: Can't
     select candidate version from package make-doc as it has no candidate (…)"}, …]} and training/SOURCES.md.
The allowed packages and rules come from the shared training-sources.md. Each package is `apt-get download`ed,
unpacked with `dpkg-deb -x`, and its .html/.htm/.txt/.md/.pdf docs (un-gzipped) and English man pages (rendered
by groff to .txt) are sampled; info manuals are skipped. A re-run keeps a package whose .deb sha256 is unchanged.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

PACKAGES = ("git-doc apache2-doc postgresql-doc-15 bash-doc make-doc gawk-doc bind9-doc exim4-doc-html samba-doc samba-common "
            "samba-common-bin samba vim-doc borgbackup-doc grub-doc sqlite3-doc nmap nmap-common tor squid squid-common haproxy-doc "
            "lighttpd-doc gnuplot-doc octave-doc fetchmail fail2ban libvirt-doc rsync openssh-client texinfo").split()
ENTRY = {"samba-common": "samba-doc", "samba-common-bin": "samba-doc", "samba": "samba-doc", "nmap-common": "nmap",
         "squid-common": "squid"}  # a package -> its line in training-sources.md where the names differ
FORBIDDEN = {"texinfo-doc-nonfree": "not allowed by training-sources.md (non-free licence); not fetched"}
MISSING = {"make-doc": "in Debian's non-free section, not main: its GFDL has invariant sections",
           "gawk-doc": "in Debian's non-free section, not main: its GFDL has invariant sections",
           "grub-doc": "GRUB Legacy's manual, not in Debian 12; GRUB 2's manual ships only as info, in grub2-common",
           "samba-doc": "not built for Debian 12: the Samba docs come from samba-common, man pages from samba-common-bin, samba"}
NOTES = ["info manuals are skipped (no reader for them); texinfo's own manual is used in the HTML form it ships",
         "docs without a .html/.htm/.txt/.md/.pdf name (README, QUICKSTART, squid.conf.documented) are not taken"]
EXTS = {".html", ".htm", ".txt", ".md", ".pdf"}
MIN_BYTES, MAX_BYTES, MAX_FILES, MAX_TOTAL, MIN_WORDS = 3_000, 250_000, 8, 400_000, 500
SKIP_NAME = re.compile(r"(^|/)((old)?news|authors|contributors|credits|thanks|sponsors|committers|todo|whatsnew|history|"
                       r"genindex|search\.|sitemap|notes\.)|(^|[/_.-])(change|release)|licen[cs]e|copying|copyright|3rd-party")
LANGS = {"ca", "cs", "da", "de", "el", "es", "fi", "fr", "hr", "hu", "id", "it", "ja", "ko", "nb", "nl", "pl", "pt", "pt-br",
         "pt_br", "ro", "ru", "sk", "sv", "tr", "uk", "zh", "zh-cn", "zh_cn", "zh-tw", "zh_tw"}
STOPWORDS = set("the of and to a in is it that for be are as with this on by or not an can if you from when which will "
                "was has have its use used any all each".split())
FREE = re.compile(r"GPL|General Public|BSD|MIT|Expat|Apache|MPL|ISC|public.domain|PostgreSQL|Vim|zlib|CC0|CC-BY|OpenSSH|"
                  r"Artistic|GFDL|Free Documentation|permissive|Redistribution and use", re.I)
BLOCKERS = [(r"invariant sections,? being (?!list)", "GFDL with invariant sections"),
            (r"cover texts,? being (?!list)", "GFDL with cover texts"), (r"^License:.*\bnon-?free\b", "a non-free licence"),
            (r"CC-BY(-SA)?-N[CD]\b|non-?commercial (use|purposes) only", "non-commercial or no-derivatives licence"),
            (r"you may not (re)?distribute|redistribution (is )?(not permitted|prohibited)", "no redistribution")]
FREEFORM = [(r"GPL v?(\d)(\+?)", r"GPL-\1\2"), (r"General Public License[^;]{0,80};\s*either\s+version\s+(\d)", r"GPL-\1+"),
            (r"Free Documentation License,? Version ([\d.]+)", r"GFDL-\1"), (r"Apache License,? Version ([\d.]+)", r"Apache-\1")]


def licence_names(copyright_text: str) -> list[str]:
    """The licences that cover the docs: DEP-5 `Files: *` and `Files: …doc/…` stanzas, else the phrases of a free-form file."""
    stanzas = []
    for paragraph in re.split(r"\n\s*\n", copyright_text):
        fields = {name.lower(): value for name, value in
                  reversed(re.findall(r"^([A-Za-z][\w-]*):[ \t]*(.*(?:\n[ \t].*)*)", paragraph, re.M))}
        if "files" in fields and fields.get("license", "").strip():
            stanzas.append((" ".join(fields["files"].split()), fields["license"].split("\n")[0].strip()))
    docs = [name for files, name in stanzas if files == "*" or re.search(r"(^|[\s/])docs?/", files)]
    if stanzas:
        return list(dict.fromkeys(docs or [name for _, name in stanzas]))
    names = [m.expand(name) for pattern, name in FREEFORM for m in re.finditer(pattern, copyright_text, re.I)]
    if re.search(r"Redistribution and use in source and binary forms", copyright_text):
        names.append("BSD-3-clause" if re.search(r"Neither the names? of", copyright_text) else "BSD-2-clause")
    return list(dict.fromkeys(names))


def licence_decision(copyright_text: str) -> tuple[str, bool, str]:
    """A copyright file -> (summary of the docs' licences, allowed to redistribute derived data, why)."""
    summary = ", ".join(licence_names(copyright_text))
    for pattern, why in BLOCKERS:
        if re.search(pattern, copyright_text, re.I | re.M):
            return summary or "unknown", False, f"not allowed: {why}"
    if not FREE.search(summary):
        if re.search(r"permission to use, copy,? (modify,? )?and distribute", copyright_text, re.I):
            return f"{summary} (use, copy, distribute)", True, "allowed: permission to use, copy and distribute for any purpose"
        return summary or "unknown", False, "not allowed: no recognisable free licence in the copyright file"
    return summary, True, "allowed: DFSG-free licence(s) that permit redistribution of derived works"


def visible_text(page: str) -> tuple[str, int]:
    """An HTML page -> (its visible text, how many non-space characters of it are link text)."""
    body = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>|<!--.*?-->", " ", page)
    links = re.findall(r"(?is)<a\s[^>]*href[^>]*>(.*?)</a\s*>", body)
    return strip_tags(body), sum(len("".join(strip_tags(link).split())) for link in links)


def strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", " ", markup))


def prose_problem(path: str, data: bytes) -> str | None:
    """None when a .html/.txt/.md file reads as English prose, else why not (PDFs are not looked into)."""
    if path.endswith(".pdf"):
        return None
    text, link_chars = data.decode("utf-8", "replace"), 0
    if path.endswith((".html", ".htm")):
        text, link_chars = visible_text(text)
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < MIN_WORDS:
        return "too little text"
    if link_chars > 0.4 * len("".join(text.split())):
        return "mostly links"
    return "not English prose" if sum(w in STOPWORDS for w in words) < 0.15 * len(words) else None


def name_problem(path: str, size: int, siblings: set[str]) -> str | None:
    """Why a candidate is skipped on its name or size alone, or None."""
    parts = path.lower().split("/")
    if SKIP_NAME.search(path.lower()):
        return "changelog/licence/index name"
    if LANGS & set(parts[:-1]) or {"_sources", "_static"} & set(parts):
        return "translation or web-page asset"
    stem, ext = path.rsplit(".", 1)
    if ext in ("txt", "md") and (f"{stem}.html" in siblings or f"{stem}.htm" in siblings):
        return "duplicate of the .html"
    return None if MIN_BYTES <= size <= MAX_BYTES else "size out of range"


def spread_order(n: int) -> list[int]:
    """0..n-1 in van der Corput order (0, n/2, n/4, 3n/4, ...): any prefix is spread evenly."""
    order, seen, bits = [], set(), max(1, (n - 1).bit_length())
    for j in range(1 << bits if n else 0):
        index = int(int(f"{j:0{bits}b}"[::-1], 2) * n / (1 << bits))
        if index not in seen:
            seen.add(index)
            order.append(index)
    return order


def select_files(files: dict[str, bytes], max_files: int = MAX_FILES, max_total: int = MAX_TOTAL) -> tuple[list[str], Counter]:
    """Documents by path -> (the chosen paths, sorted; Counter of why the others were skipped). Pure and deterministic."""
    skipped: Counter = Counter()
    ok = []
    for path in sorted(files):
        if problem := name_problem(path, len(files[path]), set(files)):
            skipped[problem] += 1
        else:
            ok.append(path)
    chosen, total = [], 0
    for pool in ([p for p in ok if not p.endswith(".pdf")], [p for p in ok if p.endswith(".pdf")]):
        for i in spread_order(len(pool)):
            path = pool[i]
            if len(chosen) >= max_files or total + len(files[path]) > max_total:
                continue
            if problem := prose_problem(path, files[path]):
                skipped[problem] += 1
                continue
            chosen.append(path)
            total += len(files[path])
    return sorted(chosen), skipped


def render_man(data: bytes) -> bytes | None:
    """A man page's troff source -> plain UTF-8 text, or None if groff is missing or fails."""
    if not shutil.which("groff"):
        return None
    run = subprocess.run(["groff", "-k", "-t", "-man", "-Tutf8", "-P-cbou"], input=data, capture_output=True)
    return re.sub(rb"\n{3,}", b"\n\n", run.stdout) if run.returncode == 0 and run.stdout.strip() else None


def gather(root: Path, package: str) -> dict[str, bytes]:
    """An unpacked .deb -> its documents by output path (docs under usr/share/doc, English man pages as .txt)."""
    found: dict[str, bytes] = {}
    for file in sorted(root.glob("usr/share/**/*")):
        rel = file.relative_to(root / "usr/share").as_posix()
        plain = rel.removesuffix(".gz")
        is_doc = rel.startswith("doc/") and Path(plain).suffix.lower() in EXTS
        is_man = re.match(r"man/man\w+/", rel) is not None
        if file.is_symlink() or not file.is_file() or not (is_doc or is_man):
            continue
        data = gzip.decompress(file.read_bytes()) if rel.endswith(".gz") else file.read_bytes()
        if is_doc:
            found[plain.removeprefix("doc/").removeprefix(f"{package}/")] = data
        elif text := render_man(data):
            found[f"{plain}.txt"] = text
    return found


def apt(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    run = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    errors = [line for line in run.stderr.splitlines() if line.startswith("E:")]
    return run.returncode, (errors[-1] if errors else run.stderr.strip()[-300:]) if run.returncode else run.stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unchanged(old: dict[str, dict], out: Path) -> set[str]:
    """The packages of the last manifest whose .deb is still apt's candidate and whose files are all in place."""
    rc, show = apt("apt-cache", "show", "--no-all-versions", *old) if old else (1, "")
    candidates = dict(re.findall(r"^Package: (\S+)\n(?:.+\n)*?SHA256: (\w+)", show, re.M)) if not rc else {}
    return {name for name, entry in old.items() if candidates.get(name) == entry["deb_sha256"] and all(
        (file := out / f["path"]).is_file() and sha256(file.read_bytes()) == f["sha256"] for f in entry["files"])}


def fetch(package: str, out: Path, tmp: Path) -> tuple[dict | None, str]:
    """Download, unpack, check the licence of and sample one package -> (manifest entry, None) or (None, why dropped)."""
    rc, said = apt("apt-get", "download", package, cwd=tmp)
    debs = sorted(tmp.glob(f"{package}_*.deb"))
    if rc or not debs:
        return None, f"apt-get download failed: {said}" + (f" ({MISSING[package]})" if package in MISSING else "")
    deb, root = debs[0], tmp / package
    unpack = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
    if unpack.returncode:
        return None, f"dpkg-deb -x failed: {unpack.stderr.strip()[-300:]}"
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True).stdout.strip()
    copyright_file = root / f"usr/share/doc/{package}/copyright"
    text = copyright_file.read_text("utf-8", "replace") if copyright_file.is_file() else ""
    licence, allowed, why = licence_decision(text)
    base = {"name": package, "entry": ENTRY.get(package, package), "version": version, "deb_sha256": sha256(deb.read_bytes()),
            "licence": licence, "allowed": allowed, "licence_decision": why}
    if not allowed:
        return None, f"{why} ({licence})"
    files = gather(root, package)
    chosen, skipped = select_files(files)
    if not chosen:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(skipped.items())) or "no .html/.txt/.md/.pdf docs or man pages"
        man = "" if shutil.which("groff") else "; man pages not rendered: groff not found (apt-get install -y groff-base)"
        return None, f"no substantial English prose ({len(files)} candidate files: {reasons}){man}"
    shutil.rmtree(out / package, ignore_errors=True)
    for path in chosen:
        (out / package / path).parent.mkdir(parents=True, exist_ok=True)
        (out / package / path).write_bytes(files[path])
    base["files"] = [{"path": f"{package}/{p}", "size": len(files[p]), "sha256": sha256(files[p])} for p in chosen]
    return base, ""


def write_sources_md(manifest: dict, path: Path) -> None:
    lines = ["# Training documents", "", "Fetched by `training/sources.py` from Debian 12 (bookworm) main; the files stay "
             "out of git (`training/corpus/`), their sha256 are in `MANIFEST.json`.", "",
             "| package | version | licence | files | KB |", "|---|---|---|---|---|"]
    for p in manifest["packages"]:
        lines.append(f"| {p['name']} | {p['version']} | {p['licence']} | {len(p['files'])} | "
                     f"{sum(f['size'] for f in p['files']) / 1000:.0f} |")
    lines += ["", f"Total: {manifest['total_files']} files, {manifest['total_bytes'] / 1e6:.2f} MB.", "",
              "## Dropped", ""] + [f"- **{d['name']}**: {d['reason']}" for d in manifest["dropped"]]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in manifest["notes"]]
    lines += ["", "## Command", "", "```", manifest["command"], "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("training/corpus"), help="where the documents go")
    out = parser.parse_args(argv).out
    manifest_path = out.parent / "MANIFEST.json"
    rules = sha256(Path(__file__).read_bytes())  # an edit to the rules re-does every package
    previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    old = {p["name"]: p for p in previous["packages"]} if previous.get("rules_sha256") == rules else {}
    rc, said = apt("apt-get", "update", "-qq")
    print(f"apt-get update failed, using the package lists as they are: {said}" if rc else "apt-get update: ok")
    kept, dropped = [], [{"name": name, "entry": name, "reason": why} for name, why in FORBIDDEN.items()]
    same = unchanged(old, out)
    for package in PACKAGES:
        if package in same:
            kept.append(old[package])
            print(f"{package}: unchanged")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            entry, why = fetch(package, out, Path(tmp))
        (kept.append(entry) if entry else dropped.append({"name": package, "entry": ENTRY.get(package, package), "reason": why}))
        print(f"{package}: {len(entry['files'])} files" if entry else f"{package}: dropped: {why}")
    for stale in set(PACKAGES) - {p["name"] for p in kept}:
        shutil.rmtree(out / stale, ignore_errors=True)
    manifest = {"command": "python3 -m training.sources --out training/corpus", "notes": NOTES, "rules_sha256": rules,
                "selection": {"min_bytes": MIN_BYTES, "max_bytes": MAX_BYTES, "max_files": MAX_FILES, "max_total": MAX_TOTAL,
                              "min_words": MIN_WORDS},
                "packages": kept, "dropped": sorted(dropped, key=lambda d: d["name"]),
                "total_files": sum(len(p["files"]) for p in kept),
                "total_bytes": sum(f["size"] for p in kept for f in p["files"])}
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_sources_md(manifest, out.parent / "SOURCES.md")
    print(f"{manifest['total_files']} files, {manifest['total_bytes'] / 1e6:.2f} MB; {len(dropped)} dropped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
