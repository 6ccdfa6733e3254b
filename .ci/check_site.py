"""Check the built documentation site (``.ci/check_site.py docs/_build/html``).

- Every local link of every page reachable from index.html points to a file that
  exists, and the pages a reader needs are reachable: the user guide, the API
  reference of each public name, the gallery (six examples at least, each with a
  figure), the benchmarks, the install notes and the changelog.
- Each estimator's API page names every parameter, attribute and public method.
- Headless Chromium renders the index and a gallery page to screenshots that are not
  blank (most of a blank page is one colour).

Exits non-zero with the reasons when a check fails.
"""
import inspect
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import matplotlib.image
import numpy as np
from numpydoc.docscrape import ClassDoc

from sklsh import LSHMLPClassifier, LSHMLPRegressor
from sklsh.ensemble import GeometricVotingClassifier

ESTIMATORS = {"sklsh.LSHMLPClassifier": LSHMLPClassifier,
              "sklsh.LSHMLPRegressor": LSHMLPRegressor,
              "sklsh.ensemble.GeometricVotingClassifier": GeometricVotingClassifier}
NEEDED = ["api.html", "auto_examples/index.html", "benchmarks.html", "install.html",
          "changelog.html", "architecture.html"] + [
    f"guide/{page}.html" for page in ("getting-started", "classification", "many-classes",
                                      "regression", "scikit-learn", "algorithm",
                                      "complexity", "tips")] + [
    f"generated/{name}.html" for name in ESTIMATORS]
MIN_EXAMPLES = 6


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value and ((tag == "a" and key == "href") or (tag == "img" and key == "src")):
                self.targets.append(value)


def crawl(root):
    """(the .html pages reachable from index.html, the broken links)."""
    seen, broken, todo = set(), [], [root / "index.html"]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue                        # external, or an anchor on this page
            path = (page.parent / unquote(parts.path)).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(root)} -> {target}")
            elif path.suffix == ".html" and root in path.parents:
                todo.append(path)
    return {p.relative_to(root).as_posix() for p in seen}, broken


def api_gaps(root):
    """Parameters, attributes and methods an estimator's API page does not name."""
    gaps = []
    for name, cls in ESTIMATORS.items():
        html = (root / "generated" / f"{name}.html").read_text(encoding="utf-8")
        params = list(inspect.signature(cls).parameters)
        attributes = [a.name.split(":")[0].strip() for a in ClassDoc(cls)["Attributes"]]
        methods = [m for m, _ in inspect.getmembers(cls, inspect.isfunction)
                   if not m.startswith("_") and not m.endswith("_request")
                   and m != "get_metadata_routing"]
        for kind, names in (("parameter", params), ("attribute", attributes),
                            ("method", methods)):
            gaps += [f"{name}: {kind} {n}" for n in names if n not in html]
        if not attributes:
            gaps.append(f"{name}: no Attributes section")
    return gaps


def blank(png):
    """Whether a screenshot is (nearly) one colour."""
    pixels = matplotlib.image.imread(png)[..., :3].reshape(-1, 3)
    _, counts = np.unique((pixels * 255).astype(np.uint8), axis=0, return_counts=True)
    return counts.max() / counts.sum() > 0.98 or len(counts) < 16


def screenshot(page, out):
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=1280,1600",
                    f"--screenshot={out}", page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    return out


def main(root):
    root = Path(root).resolve()
    problems = []
    pages, broken = crawl(root)
    problems += [f"broken link: {b}" for b in broken]
    problems += [f"not reachable from index.html: {p}" for p in NEEDED if p not in pages]
    examples = sorted(p for p in pages if p.startswith("auto_examples/plot_"))
    figures = sorted((root / "_images").glob("sphx_glr_plot_*_001.png"))
    if len(examples) < MIN_EXAMPLES or len(figures) < MIN_EXAMPLES:
        problems.append(f"{len(examples)} gallery examples and {len(figures)} figures, "
                        f"fewer than {MIN_EXAMPLES}")
    problems += [f"API page: {gap}" for gap in api_gaps(root)]
    with tempfile.TemporaryDirectory() as tmp:
        for page in ["index.html"] + examples[:1]:
            shot = screenshot(root / page, Path(tmp) / "shot.png")
            if blank(shot):
                problems.append(f"the screenshot of {page} is blank")
    print(f"{len(pages)} pages reachable, {len(examples)} gallery examples, "
          f"{len(figures)} gallery figures")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("site ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html"))
