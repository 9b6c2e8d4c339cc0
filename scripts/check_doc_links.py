#!/usr/bin/env python3
"""Every relative link in the given markdown files (and folders of them)
points to an existing file, and every #anchor to a heading of its file
(GitHub's heading ids). Also: every docs/*.md is linked from README.md,
so no page is orphaned. Usage: check_doc_links.py README.md docs"""
import os
import re
import sys

LINK = re.compile(r'(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
FENCE = re.compile(r'^\s*(```|~~~)')


def prose_lines(path):
    """(line number, text) of lines outside fenced code blocks, with code
    spans blanked out so `[a](b)` in code is not a link."""
    fenced = False
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if fenced or line.startswith('    '):
                continue
            yield n, re.sub(r'`[^`]*`', '``', line)


def slug(heading):
    """GitHub's id for a heading: lower case, markup and punctuation
    dropped, spaces to hyphens."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = text.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def headings_with_code(path):
    """The ids GitHub gives the headings of a file."""
    ids, counts, fenced = set(), {}, False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if FENCE.match(line):
                fenced = not fenced
                continue
            m = None if fenced else re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
            if m:
                s = slug(m.group(1))
                k = counts.get(s, 0)
                counts[s] = k + 1
                ids.add(s if k == 0 else f'{s}-{k}')
    return ids


def main(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            files += sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith('.md'))
        else:
            files.append(a)
    bad = []
    for path in files:
        base = os.path.dirname(path)
        for n, line in prose_lines(path):
            for target in LINK.findall(line):
                if re.match(r'^[a-z][a-z0-9+.-]*:', target):
                    continue  # http:, https:, mailto:
                file_part, _, anchor = target.partition('#')
                dest = os.path.normpath(os.path.join(base, file_part)) if file_part else path
                if not os.path.exists(dest):
                    bad.append(f'{path}:{n}: {target}: no file {dest}')
                    continue
                if anchor and dest.endswith('.md') and anchor not in headings_with_code(dest):
                    bad.append(f'{path}:{n}: {target}: no heading #{anchor} in {dest}')
    readme = 'README.md'
    if readme in files:
        readme_links = set()
        for n, line in prose_lines(readme):
            for target in LINK.findall(line):
                if not re.match(r'^[a-z][a-z0-9+.-]*:', target):
                    readme_links.add(os.path.normpath(target.partition('#')[0]))
        for path in files:
            if path != readme and os.path.normpath(path) not in readme_links:
                bad.append(f'{path}: not linked from {readme}')
    for b in bad:
        print(b, file=sys.stderr)
    print(f'check_doc_links: {len(files)} files, {len(bad)} problems')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:] or ['README.md', 'docs']))
