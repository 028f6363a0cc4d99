#!/usr/bin/env python3
"""md2man.py PAGE.md > PAGE.N - turn a man page written in Markdown (docs/*.md) into man(7) roff.

The .md is the source: edit it, then regenerate the page, e.g.
    docs/md2man.py docs/statefs.conf.md > docs/statefs.conf.5
tests/t/t6001-install.sh fails when a checked-in page is not what its .md gives.

Only the subset our pages use is understood:
    # name(N)                  the title line (first line)
    ## SECTION, ### Subsection
    paragraphs with `code`, **bold** and [text](link)
    ```fenced code```
    TERM followed by a line ": body"   a definition; its further lines and paragraphs are
                                       indented by two spaces (code blocks and tables too)
    | a | table |                      each row becomes an entry: first cell, "header: cell"...
    - bullet items
"""
import os
import re
import sys

SECTION_TITLES = {"1": "User Commands", "5": "File Formats", "8": "System Manager's Manual"}


def esc(s, code=False):
    """Escape plain text for roff; in code, also make - a minus and quotes typewriter quotes."""
    s = s.replace("\\", "\\e")
    if code:
        s = s.replace("-", "\\-").replace("'", "\\(aq").replace("`", "\\(ga")
    return "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in s)


def inline(s):
    """Inline Markdown to roff: `code` and **bold** in bold, [text](link) as text."""
    out = []
    for tok in re.split(r"(`[^`]+`|\*\*[^*]+\*\*|\[[^\]]+\]\([^)]+\))", s):
        if tok.startswith("`") and tok.endswith("`") and len(tok) > 1:
            # keep a short literal on one line (\~: a space that does not break)
            sep = "\\~" if len(tok) <= 32 else " "
            out.append("\\fB" + esc(tok[1:-1], code=True).replace(" ", sep) + "\\fR")
        elif tok.startswith("**") and tok.endswith("**") and len(tok) > 4:
            out.append("\\fB" + esc(tok[2:-2]) + "\\fR")
        elif tok.startswith("[") and tok.endswith(")"):
            out.append(esc(tok[1 : tok.index("]")]))
        else:
            out.append(esc(tok))
    return "".join(out)


def text_line(s):
    """One line of filled text; a line may not start with a control character."""
    s = inline(s.strip())
    return "\\&" + s if s[:1] in (".", "'") else s


def parse(lines):
    """Split lines into blocks: (kind, data)."""
    blocks, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            blocks.append(("code", lines[i + 1 : j]))
            i = j + 1
        elif re.match(r"#{1,3} ", line):
            level = len(line) - len(line.lstrip("#"))
            blocks.append(("h%d" % level, line[level:].strip()))
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in lines[i:j]]
            blocks.append(("table", [r for r in rows if not re.match(r"^[-: ]+$", "".join(r))]))
            i = j
        elif i + 1 < len(lines) and lines[i + 1].startswith(": "):
            body, j = [lines[i + 1][2:]], i + 2
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith("  ")):
                body.append(lines[j][2:])
                j += 1
            blocks.append(("dl", (line, parse(body))))
            i = j
        elif line.startswith("- "):
            item, j = [line[2:]], i + 1
            while j < len(lines) and lines[j].startswith("  ") and lines[j].strip():
                item.append(lines[j])
                j += 1
            blocks.append(("li", item))
            i = j
        else:
            j = i
            while j < len(lines) and lines[j].strip() and not re.match(r"(```|#{1,3} |\||- )",
                                                                      lines[j]):
                if j > i and j + 1 < len(lines) and lines[j + 1].startswith(": "):
                    break
                j += 1
            blocks.append(("p", lines[i:j]))
            i = j
    return blocks


def code(lines, indent=""):
    out = [".nf"]
    for l in lines:
        l = indent + esc(l.expandtabs(4), code=True)
        out.append("\\&" + l if l[:1] in (".", "'") else l)
    return out + [".fi"]


def emit(blocks, nested=False):
    """Roff for blocks; nested: inside a definition's body (indented, paragraphs by .IP)."""
    out, first = [], True
    for kind, data in blocks:
        if kind in ("h2", "h3"):
            out += [".SH" if kind == "h2" else ".SS", esc(data)]
            first = True
            continue
        if kind == "p":
            if not (nested and first):
                out.append(".IP" if nested else ".PP")
            out.append(text_line(" ".join(l.strip() for l in data)))
        elif kind == "code":
            # .RS indents from the section's margin, not a definition's: indent by hand there
            if nested:
                out += [".IP"] + code(data, indent="    ")
            else:
                out += [".PP", ".RS 4"] + code(data) + [".RE"]
        elif kind == "dl":
            term, body = data
            out += [".RS"] if nested else []
            out += [".TP", text_line(term)] + emit(body, nested=True)
            out += [".RE"] if nested else []
        elif kind == "li":
            out += [".IP \\(bu 2", text_line(" ".join(l.strip() for l in data))]
        elif kind == "table":
            head, rows = data[0], data[1:]
            out += [".RS"] if nested else []
            for r in rows:
                out += [".TP", text_line(r[0])]
                for n, (h, c) in enumerate(zip(head[1:], r[1:])):
                    out += ([".br"] if n else []) + [text_line(h + ": " + c)]
            out += [".RE"] if nested else []
        first = False
    return out


def main():
    path = sys.argv[1]
    lines = open(path, encoding="utf-8").read().splitlines()
    m = re.match(r"# (\S+)\((\d)\)\s*$", lines[0])
    if not m:
        sys.exit("%s:1: expected a title line '# name(N)'" % path)
    name, sect = m.groups()
    out = ['.\\" %s(%s) - generated from %s by docs/md2man.py: edit the .md, not this file.'
           % (name, sect, "docs/" + os.path.basename(path)),
           '.TH "%s" "%s" "" "statefs" "%s"' % (name.upper(), sect, SECTION_TITLES[sect]),
           ".ad l",  # ragged right: long literals make justified lines gappy
           ".nh"]  # and no hyphenation: it would cut literals (docker-com-pose.yml)
    blocks = parse(lines[1:])
    # NAME: "name - summary" as one line, as whatis(1) and apropos(1) want it.
    for k, (kind, data) in enumerate(blocks):
        if kind == "h2" and data == "NAME" and k + 1 < len(blocks) and blocks[k + 1][0] == "p":
            blocks[k + 1] = ("name", " ".join(l.strip() for l in blocks[k + 1][1]))
    for kind, data in blocks:
        if kind == "name":
            n, _, summary = data.partition(" - ")
            out.append(esc(n, code=True) + " \\- " + esc(summary))
        else:
            out += emit([(kind, data)])
    print("\n".join(out))


if __name__ == "__main__":
    main()
