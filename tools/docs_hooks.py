"""MkDocs hooks of the kgen documentation site (mkdocs.yml: `hooks: [tools/docs_hooks.py]`).

The site's pages are the files under zoo/ as they are (the model cards and their pictures, the notebooks, the API
pages zoo/api/*.md), and pages this hook makes, so that every text has one source and zoo/*.md stays the cards:

- index.md is README.md and contributing.md is CONTRIBUTING.md, their relative links made relative to the page.
- api/models.md gains a section per family class, read from the `__all__` of each family folder's `__init__.py`
  (kgen.models binds them at import, which the static analysis of mkdocstrings does not see): a new family needs no
  edit here either.
- cli.md is the help of `kgen` and of each of its commands, asked of the parser in kgen/cli.py (in a child process
  that starts no Keras).
- A relative link that leaves zoo/ keeps working: to an included file (README.md, CONTRIBUTING.md) it goes to the page
  that includes it; to any other file of the repository it goes to a copy of that file in the site, under
  `_source/` (a Markdown file is rendered as a page there; a folder becomes a page listing its files), so the site
  stands alone and a strict build checks every such link.
- The navigation is made from the files: Getting started (README.md), the CLI, every model card (zoo/*.md), every
  notebook (zoo/notebooks/*.ipynb), the API reference (zoo/api/*.md) and Contributing. A new card or notebook needs
  no edit.
  Two generated pages list the cards (model_zoo.md) and the notebooks (notebooks/index.md): links to the folders
  zoo/ and zoo/notebooks/ reach them.
- With `KGEN_DOCS_NOTEBOOKS=DIR` (tools/build_docs.sh sets it), each notebook is rendered from its executed copy in
  DIR (`tools/run_notebooks.py --out DIR` writes them), and a notebook without one is a warning (an error under
  --strict); without it the notebooks are rendered as they are in zoo/notebooks (kept without outputs).
"""

import ast
import json
import logging
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

from mkdocs.structure.files import File, InclusionLevel

log = logging.getLogger("mkdocs.hooks.kgen")

FENCE = re.compile(r"^(```|~~~)", re.M)
# A Markdown link or image target, `](target)` or `](target "title")`, and HTML src= / href= attributes.
LINK = re.compile(r"(\]\(\s*)(<[^>]*>|[^)\s]+)((?:\s+\"[^\"]*\")?\))|(\b(?:src|href)=\")([^\"]*)(\")")
SOURCE_DIR = "_source"  # where the site keeps copies of the repository files that pages link to
NOT_IN_NAV = InclusionLevel.NOT_IN_NAV  # the _source/ pages: reached by their links, not from the navigation
CARDS_PAGE = "model_zoo.md"  # generated: the list of the cards (what a link to zoo/ itself reaches)
NOTEBOOKS_PAGE = "notebooks/index.md"  # generated unless written: the list of the notebooks
FIXED_PAGES = {"index.md": "Getting started", "cli.md": "The kgen command", "contributing.md": "Contributing"}
INCLUDED = {"README.md": "index.md", "CONTRIBUTING.md": "contributing.md"}  # repository file -> page
CLI_INTRO = """# The `kgen` command

`kgen` trains, evaluates, samples, completes, encodes, compresses and exports the zoo's models from a shell; the
[getting started](index.md#using-it) page shows it at work. Bad input is one line on stderr naming the argument and
what was expected, exit status 2, and nothing written; `kgen --debug COMMAND ...` shows the Python traceback instead.

The help of every command follows, as `kgen COMMAND --help` prints it (this page is made from the parser in
`kgen/cli.py` when the site is built).
"""

_state = {}


def _root(config):
    return Path(config.config_file_path).resolve().parent


def _docs(config):
    return Path(config.docs_dir).resolve()


def _is_relative(target):
    return not (target.startswith(("#", "/", "\\")) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target))


def _split_code(text):
    """Yields (is_code, chunk) pieces of Markdown: fenced code blocks are left alone."""
    pos, in_code, fence = 0, False, None
    for m in FENCE.finditer(text):
        if in_code and m.group(1) != fence:
            continue
        cut = m.start() if not in_code else text.find("\n", m.end())
        cut = len(text) if cut < 0 else cut
        yield in_code, text[pos:cut]
        pos, in_code, fence = cut, not in_code, m.group(1)
    yield in_code, text[pos:]


def _targets(text):
    for is_code, chunk in _split_code(text):
        if not is_code:
            for m in LINK.finditer(chunk):
                yield (m.group(2) or m.group(5) or "").strip("<>")


def _resolve(target, base):
    """The absolute path a relative link target names, and its #fragment (with the '#'), or None."""
    if not target or not _is_relative(target):
        return None
    path, hash_, fragment = target.partition("#")
    if not path:
        return None
    return Path(os.path.normpath(base / path)), hash_ + fragment


def _includes(config):
    """{included repository file (absolute): the src_uri of its page}."""
    return {(_root(config) / name).resolve(): uri for name, uri in INCLUDED.items()}


def _source_uri(config, path):
    return posixpath.join(SOURCE_DIR, path.relative_to(_root(config)).as_posix())


def _add_source(config, files, path, queue):
    """Adds the repository file or folder `path` under _source/ (once); Markdown files are queued for scanning."""
    uri = _source_uri(config, path)
    if path.is_dir():
        uri = posixpath.join(uri, "index.md")
        if files.get_file_from_path(uri) is None:
            entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            lines = [f"# {path.relative_to(_root(config)).as_posix()}/", ""]
            lines += [f"- [{p.name}]({'_' + p.name if p.name == 'index.md' else p.name})" for p in entries]
            folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
            lines += [f"- {p.name}/" for p in folders]
            files.append(File.generated(config, uri, content="\n".join(lines) + "\n", inclusion=NOT_IN_NAV))
            for p in entries:
                _add_source(config, files, p, queue)
        return
    if path.name == "index.md":  # would clash with the folder's listing page
        uri = posixpath.join(posixpath.dirname(uri), "_index.md")
    if files.get_file_from_path(uri) is None:
        files.append(File.generated(config, uri, abs_src_path=str(path), inclusion=NOT_IN_NAV))
        if path.suffix == ".md":
            queue.append(path)


def _target_uri(config, path, state):
    """The src_uri, in the site, of what a link to the absolute repository path `path` should reach."""
    docs = _docs(config)
    if path in state["includes"]:
        return state["includes"][path]
    if path == docs:  # zoo/ itself: the model cards
        return CARDS_PAGE
    if docs in path.parents:
        uri = path.relative_to(docs).as_posix()
        return posixpath.join(uri, "index.md") if path.is_dir() else uri
    uri = _source_uri(config, path)
    if path.is_dir():
        return posixpath.join(uri, "index.md")
    return posixpath.join(posixpath.dirname(uri), "_index.md") if path.name == "index.md" else uri


def _map_target(config, path, page_uri, state):
    """The link (relative to the page `page_uri`) that replaces a link to the absolute repository path `path`."""
    return posixpath.relpath(_target_uri(config, path, state), posixpath.dirname(page_uri) or ".")


def _rewrite(text, base, page_uri, config, state):
    """`text` with the relative links it makes from the folder `base` made relative to the page `page_uri`."""

    def one(m):
        pre, target, post = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        resolved = _resolve(target.strip("<>"), base)
        if resolved is None or not resolved[0].exists():
            return m.group(0)  # left for MkDocs to report
        link = _map_target(config, resolved[0], page_uri, state) + resolved[1]
        return pre + (f"<{link}>" if target.startswith("<") else link) + post

    return "".join(chunk if is_code else LINK.sub(one, chunk) for is_code, chunk in _split_code(text))


def _cli_help(config):
    """{'': `kgen --help`, 'list': `kgen list --help`, ...} from the parser, in a child process."""
    code = (
        "import argparse, json, sys\n"
        "sys.argv = ['kgen']  # as the command, `import kgen` starts no Keras (kgen/__init__.py)\n"
        "from kgen import cli\n"
        "p = cli.build_parser()\n"
        "out = {'': p.format_help()}\n"
        "for a in p._actions:\n"
        "    if isinstance(a, argparse._SubParsersAction):\n"
        "        out.update((name, s.format_help()) for name, s in a.choices.items())\n"
        "print(json.dumps(out))\n"
    )
    path = os.pathsep.join(p for p in (str(_root(config)), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, COLUMNS="80", PYTHONPATH=path)  # 80: the help fits the page's code blocks
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=_root(config), timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"kgen docs: the kgen parser could not be built for cli.md:\n{done.stderr}")
    return json.loads(done.stdout)


def _cli_markdown(config):
    helps = _cli_help(config)
    parts = [CLI_INTRO]
    for name, text in helps.items():
        title = f"kgen {name}".strip()
        parts += [f"## `{title}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


def _notebook_markdown(path):
    """The text of a notebook's Markdown cells."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except ValueError:
        return ""  # mkdocs-jupyter reports a notebook it cannot read
    return "\n\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "markdown")


def on_config(config):
    _state.clear()
    return config


def on_files(files, config):
    state = _state
    state["includes"] = _includes(config)
    for path, uri in state["includes"].items():
        if files.get_file_from_path(uri) is None and path.is_file():
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    if files.get_file_from_path("cli.md") is None:
        files.append(File.generated(config, "cli.md", content=_cli_markdown(config)))

    # Notebooks: rendered from their executed copies when asked.
    executed = os.environ.get("KGEN_DOCS_NOTEBOOKS")
    for f in files:
        if f.src_uri.endswith(".ipynb") and executed:
            rel = Path(f.src_uri).relative_to("notebooks") if f.src_uri.startswith("notebooks/") else Path(f.src_uri)
            for candidate in (Path(executed) / rel, Path(executed) / rel.name):
                if candidate.is_file():
                    f.abs_src_path = str(candidate.resolve())
                    break
            else:
                log.warning(f"kgen: no executed copy of {f.src_uri} in {executed} (KGEN_DOCS_NOTEBOOKS); rendered "
                            "without outputs")

    _add_overviews(config, files, executed)

    # Repository files that pages (or the files they include) link to, outside zoo/: copied under _source/.
    docs = _docs(config)
    queue = [Path(f.abs_src_path).resolve() for f in files.documentation_pages()
             if f.abs_src_path and f.src_uri.endswith(".md")]
    queue += [docs / f.src_uri for f in files if f.src_uri.endswith(".ipynb")]  # the kept notebook, not the copy
    seen = set()
    while queue:
        path = queue.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = _notebook_markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
        for target in _targets(text):
            resolved = _resolve(target, path.parent)
            if resolved is None or not resolved[0].exists():
                continue
            p = resolved[0]
            if p in state["includes"] or p == docs or docs in p.parents:
                continue
            if p == _root(config) or _root(config) not in p.parents or ".git" in p.parts:
                continue
            _add_source(config, files, p, queue)

    config.nav = _navigation(files)
    return files


def _title(path):
    """The first level-1 heading of a Markdown file or of a notebook's Markdown cells, else the file's name."""
    text = _notebook_markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("_", " ")


def _cards(files):
    return sorted(f.src_uri for f in files if "/" not in f.src_uri and f.src_uri.endswith(".md")
                  and f.src_uri not in FIXED_PAGES and f.src_uri != CARDS_PAGE)


def _notebooks(files):
    return sorted(f.src_uri for f in files if f.src_uri.startswith("notebooks/") and f.src_uri.endswith(".ipynb"))


def _add_overviews(config, files, executed):
    """The generated list of the model cards, and of the notebooks (unless notebooks/index.md is written)."""
    docs = _docs(config)
    lines = ["# Model zoo", "", "One card per model family: what it is, its presets, and measured results with the "
             "command that reproduces them.", "", "| card | file |", "| --- | --- |"]
    lines += [f"| [{_title(docs / uri)}]({uri}) | `zoo/{uri}` |" for uri in _cards(files)]
    if files.get_file_from_path(CARDS_PAGE) is None:
        files.append(File.generated(config, CARDS_PAGE, content="\n".join(lines) + "\n"))
    notebooks = _notebooks(files)
    if notebooks and files.get_file_from_path(NOTEBOOKS_PAGE) is None:
        shown = ("shown with the outputs of a run with tiny settings (`tools/run_notebooks.py --tiny`)" if executed
                 else "shown as they are kept, without outputs (`tools/run_notebooks.py` runs them)")
        lines = ["# Notebooks", "", f"Tutorials, kept in `zoo/notebooks/` and {shown}.", ""]
        lines += [f"- [{_title(docs / uri)}]({posixpath.basename(uri)})" for uri in notebooks]
        files.append(File.generated(config, NOTEBOOKS_PAGE, content="\n".join(lines) + "\n"))


def _navigation(files):
    pages = sorted(f.src_uri for f in files if f.src_uri.endswith((".md", ".ipynb")) and not
                   f.src_uri.startswith(SOURCE_DIR + "/"))
    nav = [{title: uri} for uri, title in FIXED_PAGES.items() if uri in pages and uri != "contributing.md"]
    cards, notebooks = _cards(files), _notebooks(files)
    api = [p for p in pages if p.startswith("api/")]
    api.sort(key=lambda p: (p != "api/index.md", p))
    nav.append({"Model zoo": [{"Overview": CARDS_PAGE}] + cards})
    if notebooks:
        nav.append({"Notebooks": [NOTEBOOKS_PAGE] + notebooks})
    if api:
        nav.append({"API reference": api})
    if "contributing.md" in pages:
        nav.append({FIXED_PAGES["contributing.md"]: "contributing.md"})
    return nav


def _family_classes(config):
    """[(family package, class name)] of every family folder under kgen/models, from the `__all__` of its
    `__init__.py` (read, not imported): what `kgen.models.import_families` binds when it imports the folders."""
    found = []
    for init in sorted((_root(config) / "kgen" / "models").glob("*/__init__.py")):
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                found += [(f"kgen.models.{init.parent.name}", name) for name in ast.literal_eval(node.value)]
    return found


def _with_families(markdown, config):
    """The API page of kgen.models with a section per family class: kgen.models binds them when it imports the family
    folders, which the docs' static analysis does not see, so each is documented from its family's package."""
    lines = ["", "## The families", ""]
    for package, name in _family_classes(config):
        lines += [f"::: {package}.{name}", "    options:", "      show_root_heading: true", ""]
    return markdown.rstrip() + "\n" + "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    state = _state
    uri = page.file.src_uri
    if uri == "api/models.md":
        markdown = _with_families(markdown, config)
    if page.file.abs_src_path:
        base = Path(page.file.abs_src_path).resolve().parent
    else:
        base = _docs(config) / posixpath.dirname(uri)
    return _rewrite(markdown, base, uri, config, state)


HTML_LINK = re.compile(r"(\b(?:src|href)=\")([^\"]*)(\")")


def on_page_content(html, page, config, files):
    """A notebook's links (rendered by mkdocs-jupyter, never seen as Markdown) go where a card's would."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    base = (_docs(config) / page.file.src_uri).parent  # the kept notebook's folder, also for an executed copy

    def one(m):
        resolved = _resolve(m.group(2), base)
        if resolved is None or not resolved[0].exists():
            return m.group(0)
        target = files.get_file_from_path(_target_uri(config, resolved[0], _state))
        if target is None:
            log.warning(f"kgen: {page.file.src_uri} links to {m.group(2)}, which is not in the site")
            return m.group(0)
        url = posixpath.relpath(target.url or ".", posixpath.dirname(page.url) or ".")
        return m.group(1) + url + resolved[1] + m.group(3)

    return HTML_LINK.sub(one, html)
