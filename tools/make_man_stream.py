#!/usr/bin/env python3
"""Builds a bring-your-own stream from Debian's manual pages, a corpus the bundled base never saw.

It is the check of issue 24 that the bundled base and recipe learn tasks they were not tuned on:
three classification tasks in the stream layout of BENCHMARKS.md (stream.json plus one folder of
train/dev/test.jsonl per task), from the man pages that Debian packages install in /usr/share/man:

  section   which manual section an English page is from: command (1), syscall (2), library (3),
            config (5)
  language  which language a translated page is in: german, french, swedish, portuguese
  package   which package an English section-1 page comes from: git, openssl, coreutils

Each example is one paragraph of a page's text (roff requests and escapes stripped), cut at 160
bytes like textcl's inputs. Pages are split between train, dev and test before their paragraphs
are taken, so no page gives examples to two splits. Pages of packages that Debian does not ship
(google-cloud-cli) are left out. Seeded; offline; not part of the tests.

  /usr/bin/python3 tools/make_man_stream.py --out DIR [--seed 1] [--man /usr/share/man]
"""
import argparse
import gzip
import json
import os
import random
import re
import sys
import unicodedata

PER_LABEL = {"train": 150, "dev": 20, "test": 30}
MAX_BYTES, MIN_BYTES = 160, 24
SNIPPETS_PER_PAGE = 3  # a page gives at most this many paragraphs, so no page dominates a label


def debian_owned(man_root):
    """{man page path: the installed Debian package listing it} (google-cloud-cli's are not Debian's)."""
    owner = {}
    info = "/var/lib/dpkg/info"
    for name in os.listdir(info):
        if not name.endswith(".list") or name.startswith("google-cloud"):
            continue
        package = name[:-5].split(":")[0]
        with open(os.path.join(info, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                path = line.rstrip("\n")
                if path.startswith(man_root + "/"):
                    owner[path] = package
    return owner


def page_text(path):
    """The paragraphs of a roff page as plain text, the NAME section included."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except (OSError, EOFError):
        return []
    if any(line.startswith(".so ") for line in lines[:3]):
        return []  # a link to another page
    paragraphs, current = [], []
    for line in lines:
        if line.startswith((".", "'")):
            request = line[1:].split(" ", 1)[0]
            if request in ("PP", "LP", "P", "SH", "SS", "TP", "IP", "HP", "sp", "br"):
                if current:
                    paragraphs.append(" ".join(current))
                current = []
            # text carried by font requests (.B word, .I word, .BR a b) is kept
            if request in ("B", "I", "BR", "BI", "IB", "RB", "RI", "IR") and " " in line:
                current.append(line.split(" ", 1)[1].replace('"', ""))
            continue
        current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    cleaned = []
    for p in paragraphs:
        p = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", p)  # font changes
        p = re.sub(r"\\\*(\[[^\]]*\]|\(..|.)", "", p)  # strings
        p = re.sub(r"\\\((..)|\\\[([^\]]*)\]", lambda m: special_character(m.group(1) or m.group(2)), p)
        p = p.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\").replace("\\ ", " ")
        p = re.sub(r"\\.", "", p)
        p = " ".join(p.split())
        if len(p.encode("utf-8")) >= MIN_BYTES and re.search(r"[A-Za-zÀ-ÿ]{3}", p):
            cleaned.append(p)
    return cleaned


ACCENTS = {":": "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", ",": "\u0327", "o": "\u030a"}
NAMED = {"ss": "ß", "AE": "Æ", "ae": "æ", "/o": "ø", "/O": "Ø", "em": "—", "en": "–", "hy": "-", "aq": "'",
         "dq": '"', "lq": "“", "rq": "”", "oq": "‘", "cq": "’", "bu": "•", "co": "©", "rg": "®", "mu": "×"}


def special_character(name):
    """groff's \\(xx or \\[xx]: accented letters (\\(:a is ä) and a few named glyphs; others become a space."""
    if name in NAMED:
        return NAMED[name]
    if len(name) == 2 and name[0] in ACCENTS and name[1].isalpha():
        return unicodedata.normalize("NFC", name[1] + ACCENTS[name[0]])
    return " "


def cut(text):
    data = text.encode("utf-8")[:MAX_BYTES]
    return data.decode("utf-8", errors="ignore").strip()


def take_examples(label_pages, rng):
    """{label: [page paths]} -> {split: [(text, label)]}, pages never shared between splits."""
    out = {split: [] for split in PER_LABEL}
    for label, pages in sorted(label_pages.items()):
        pages = sorted(pages)
        rng.shuffle(pages)
        cursor = 0
        for split in ("test", "dev", "train"):
            need, got = PER_LABEL[split], []
            while len(got) < need and cursor < len(pages):
                paragraphs = page_text(pages[cursor])
                cursor += 1
                rng.shuffle(paragraphs)
                got.extend((cut(p), label) for p in paragraphs[:SNIPPETS_PER_PAGE])
            if len(got) < need:
                sys.exit(f"make_man_stream: label '{label}' has too few pages for its {split} split "
                         f"({len(got)} of {need} examples from {len(pages)} pages)")
            out[split].extend(got[:need])
    for split in out:
        rng.shuffle(out[split])
    return out


def write_task(root, name, instruction, labels, examples):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    for split, rows in examples.items():
        path = os.path.join(folder, split + ".jsonl")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for text, label in rows:
                f.write(json.dumps({"instruction": instruction, "input": text, "output": label},
                                   ensure_ascii=False) + "\n")
        os.replace(path + ".tmp", path)
    return {"name": name, "labels": labels}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--man", default="/usr/share/man")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    owner = debian_owned(args.man)

    def pages(folder, keep=lambda path: True):
        full = os.path.join(args.man, folder)
        if not os.path.isdir(full):
            return []
        return [os.path.join(full, f) for f in os.listdir(full)
                if os.path.join(full, f) in owner and keep(os.path.join(full, f))]

    plain3 = lambda path: re.search(r"\.3\.gz$", path) is not None
    tasks = [
        ("section", "Which manual section is this page from?",
         {"command": pages("man1"), "syscall": pages("man2"), "library": pages("man3", plain3),
          "config": pages("man5")}),
        ("language", "Which language is this manual page in?",
          {label: [path for section in ("man1", "man3", "man5", "man7", "man8") for path in pages(lang + "/" + section)]
          for label, lang in (("german", "de"), ("french", "fr"), ("swedish", "sv"), ("portuguese", "pt"))}),
        ("package", "Which package is this command's manual page from?",
         {label: pages("man1", lambda path, p=package: owner.get(path) == p)
          for label, package in (("git", "git-man"), ("openssl", "openssl"), ("coreutils", "coreutils"))}),
    ]
    os.makedirs(args.out, exist_ok=True)
    stream = {"name": "man-pages", "tasks": []}
    for name, instruction, label_pages in tasks:
        labels = list(label_pages)
        stream["tasks"].append(write_task(args.out, name, instruction, labels, take_examples(label_pages, rng)))
    with open(os.path.join(args.out, "stream.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(stream, f, indent=2)
    os.replace(os.path.join(args.out, "stream.json.tmp"), os.path.join(args.out, "stream.json"))
    print(f"make_man_stream: wrote {len(stream['tasks'])} tasks to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
